"""What a function's response brings besides its `response` object, in `SessionRunner`
with scripted fakes: `willContinue` (a NON_BLOCKING call answered more than once), the
`parts` of a result (text and images), and a turn ended by a malformed call."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from openlive.backends.base import ChatMessage, FunctionResult, Image, MalformedCall
from tests.fakes import Reply

from .test_functions import PARIS, SUNNY, WEATHER, calls_in, tool_response, with_functions
from .test_runner import (
    TURN_COMPLETE,
    Json,
    Live,
    Opener,
    settle,
    text,
    user_turn,
)

NON_BLOCKING = {**WEATHER, "behavior": "NON_BLOCKING"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def inline(mime: str, data: bytes) -> Json:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


async def called(s: Live, *, functions: Json = NON_BLOCKING) -> str:
    """Start `s` with `functions`, ask for the weather, and return the call's id once the
    turn that made it has ended."""
    await s.start(with_functions(functions))
    s.feed(user_turn("Weather in Paris?"))
    await s.transport.until_sent(2 if functions is WEATHER else 3)
    [call] = calls_in(s.sent)
    return str(call["id"])


def results(s: Live, reply: int) -> list[ChatMessage]:
    return [m for m in s.llm.calls[reply].messages if m.role == "tool"]


# --- willContinue ----------------------------------------------------------------------------


async def test_a_call_that_continues_stays_open_until_its_last_response(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["Cloudy."]), Reply(["Sunny now."]), Reply(["Bye."]))
    call = await called(s)

    s.feed(tool_response(call, {"sky": "cloudy"}, willContinue=True))  # WHEN_IDLE: answered
    await s.transport.until_sent(6)
    assert text("Cloudy.") in s.sent
    s.feed(tool_response(call, {"sky": "sunny"}, willContinue=False))
    await s.transport.until_sent(9)
    assert text("Sunny now.") in s.sent
    assert [m.result.response for m in results(s, 2) if m.result] == [
        {"sky": "cloudy"},
        {"sky": "sunny"},
    ]

    s.feed(tool_response(call, {"sky": "late"}))  # after the last: not considered
    s.feed(user_turn("Thanks."))
    await s.transport.until_sent(12)
    assert s.transport.closed is None, "a response after the last one is dropped quietly"
    assert len(results(s, 3)) == 2


async def test_continued_results_follow_their_scheduling(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["Noted both."]))
    call = await called(s)
    s.feed(tool_response(call, {"step": 1}, willContinue=True, scheduling="SILENT"))
    s.feed(tool_response(call, {"step": 2}, willContinue=True, scheduling="SILENT"))
    await settle()
    assert len(s.llm.calls) == 1 and len(s.sent) == 3, "silent results ask for no answer"
    # An empty last response only ends the call; WHEN_IDLE still asks for an answer.
    s.feed(tool_response(call, {}, willContinue=False))
    await s.transport.until_sent(6)
    assert [m.result.response for m in results(s, 1) if m.result] == [{"step": 1}, {"step": 2}]


async def test_a_blocking_call_ignores_will_continue(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["Sunny."]))
    call = await called(s, functions=WEATHER)
    s.feed(tool_response(call, SUNNY, willContinue=True))
    await s.transport.until_sent(5)
    assert s.sent[-1]["serverContent"]["turnComplete"]
    s.feed(tool_response(call, SUNNY))
    await s.ended()
    assert s.transport.closed is not None and s.transport.closed[0] == 1007


# --- parts -----------------------------------------------------------------------------------


async def test_text_parts_join_the_result(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["Sunny."]))
    call = await called(s)
    parts = [inline("text/plain", "Sunny, 25 °C.".encode()), inline("application/json", b"{}")]
    s.feed(tool_response(call, SUNNY, parts=parts))
    await s.transport.until_sent(6)
    [result] = results(s, 1)
    assert result == ChatMessage(
        "tool",
        "Sunny, 25 °C.\n{}",
        result=FunctionResult(call, "get_weather", SUNNY, "Sunny, 25 °C.\n{}"),
    )


async def test_an_image_part_reaches_a_model_that_can_see(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["A sunny sky."]))
    s.llm.capabilities.vision = True
    call = await called(s)
    s.feed(tool_response(call, {}, parts=[inline("image/png", PNG)]))
    await s.transport.until_sent(6)
    [result] = results(s, 1)
    assert result.images == (Image("image/png", PNG),)
    usage = s.sent[-1]["usageMetadata"]
    assert {"modality": "IMAGE", "tokenCount": 258} in usage["promptTokensDetails"]


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        (
            inline("image/png", PNG),
            "Image and video input is not supported by models/gemini-live-2.5-flash-preview on "
            "this server: its LLM cannot see.",
        ),
        (inline("audio/wav", b"RIFF"), "Unsupported MIME type: audio/wav"),
        (
            inline("text/plain", b"\xff\xfe"),
            "The text/plain data of a function response part is not valid UTF-8.",
        ),
        (
            {"fileData": {"fileUri": "gs://b/f.png", "mimeType": "image/png"}},
            "fileData in a function response is not supported: this server fetches no files; "
            "send the data as inlineData.",
        ),
    ],
    ids=["image-blind-model", "audio", "not-utf8", "file-data"],
)
async def test_parts_that_cannot_be_used_are_refused(
    live: Opener, part: dict[str, Any], reason: str
) -> None:
    s = live(Reply([], calls=[PARIS]))
    call = await called(s)
    s.feed(tool_response(call, {}, parts=[part]))
    await s.ended()
    assert s.transport.closed == (1007, reason)


# --- a malformed call -----------------------------------------------------------------------


async def test_a_malformed_call_ends_the_turn_not_the_session(live: Opener) -> None:
    bad = MalformedCall("the model called 'get_time', which is not declared")
    s = live(Reply(["Let me see."], error=bad), Reply(["Hello."]))
    await s.start(with_functions(WEATHER))
    s.feed(user_turn("What time is it?"))
    await s.transport.until_sent(3)
    assert s.sent[1:3] == [
        text("Let me see."),
        {
            "serverContent": {
                **TURN_COMPLETE["serverContent"],
                "turnCompleteReason": "MALFORMED_FUNCTION_CALL",
            }
        },
    ]
    s.feed(user_turn("Hi."))
    await s.transport.until_sent(6)
    assert s.transport.closed is None
    assert [m.content for m in s.llm.calls[1].messages] == [
        "What time is it?",
        "Let me see.",
        "Hi.",
    ]
