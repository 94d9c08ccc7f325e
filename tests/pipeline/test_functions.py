"""Function calling in `SessionRunner`, with scripted fakes: the calls, their answers,
cancellation, NON_BLOCKING scheduling and the history each reply is asked with."""

from __future__ import annotations

from typing import Any

import pytest

from openlive.backends.base import ChatMessage, FunctionCall, FunctionResult, Usage
from openlive.pipeline.tools import MAX_FUNCTIONS, Functions
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import Tool
from tests.fakes import Reply

from .test_runner import (
    TURN_COMPLETE,
    Json,
    Opener,
    answer,
    settle,
    setup,
    text,
    user,
    user_turn,
)

WEATHER = {
    "name": "get_weather",
    "description": "Get the weather in a city.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}},
        "required": ["city"],
    },
}


def with_functions(*declarations: Json) -> Json:
    return setup(tools=[{"functionDeclarations": list(declarations)}])


def calls_in(sent: list[Json]) -> list[Json]:
    return [c for m in sent if "toolCall" in m for c in m["toolCall"]["functionCalls"]]


def tool_response(call_id: str, response: Json, **fields: Any) -> Json:
    return {
        "toolResponse": {
            "functionResponses": [
                {"id": call_id, "name": "get_weather", "response": response, **fields}
            ]
        }
    }


PARIS = FunctionCall("get_weather", {"city": "Paris"})
SUNNY = {"output": {"sky": "sunny"}}


async def test_a_blocking_call_holds_the_turn_until_its_answer(live: Opener) -> None:
    usage = Usage(30, 4)
    s = live(Reply([], calls=[PARIS]), Reply(["Sunny ", "today."], usage=usage))
    await s.start(with_functions(WEATHER))

    s.feed(user_turn("Weather in Paris?"))
    await s.transport.until_sent(2)
    [call] = calls_in(s.sent)
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    assert call["id"]
    await settle()
    assert len(s.sent) == 2, "no turnComplete while a blocking call is pending"
    assert [f.name for f in s.llm.calls[0].functions] == ["get_weather"]
    assert s.llm.calls[0].functions[0].parameters == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }

    s.feed(tool_response(call["id"], SUNNY))
    await s.transport.until_sent(6)
    assert s.sent[2:] == answer(usage, "Sunny ", "today.")
    assert s.llm.calls[1].messages == [
        user("Weather in Paris?"),
        ChatMessage("assistant", "", calls=(FunctionCall("get_weather", PARIS.args, call["id"]),)),
        ChatMessage("tool", "", result=FunctionResult(call["id"], "get_weather", SUNNY)),
    ]


async def test_several_calls_in_one_turn_each_get_an_id(live: Opener) -> None:
    tokyo = FunctionCall("get_weather", {"city": "Tokyo"})
    s = live(Reply([], calls=[PARIS, tokyo]), Reply(["Both fine."]))
    await s.start(with_functions(WEATHER))
    s.feed(user_turn("Paris and Tokyo?"))
    await s.transport.until_sent(2)
    first, second = calls_in(s.sent)
    assert first["id"] != second["id"]

    s.feed(tool_response(second["id"], SUNNY))
    await settle()
    assert len(s.llm.calls) == 1, "the turn waits for every blocking call"
    s.feed(tool_response(first["id"], {"output": {"sky": "rain"}}))
    await s.transport.until_sent(5)
    assert [m.result.id for m in s.llm.calls[1].messages if m.result] == [
        first["id"],
        second["id"],
    ]


async def test_an_interruption_cancels_the_pending_calls(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["OK."]))
    await s.start(with_functions(WEATHER))
    s.feed(user_turn("Weather in Paris?"))
    await s.transport.until_sent(2)
    [call] = calls_in(s.sent)

    s.feed(user_turn("Never mind."))
    await s.transport.until_sent(5)
    assert s.sent[2] == {"toolCallCancellation": {"ids": [call["id"]]}}
    assert s.sent[3] == {"serverContent": {"interrupted": True}}

    # A late answer to the cancelled call is dropped without a word.
    s.feed(tool_response(call["id"], SUNNY))
    await s.transport.until_sent(8)
    assert text("OK.") in s.sent
    await settle()
    assert s.transport.closed is None
    assert all(m.result is None for m in s.llm.calls[1].messages)


async def test_an_answer_to_no_call_closes_with_1007(live: Opener) -> None:
    s = live()
    await s.start(with_functions(WEATHER))
    s.feed(tool_response("made-up", SUNNY))
    await s.ended()
    assert s.transport.closed is not None
    code, reason = s.transport.closed
    assert code == 1007 and "made-up" in reason


async def test_a_non_blocking_call_ends_the_turn_and_its_answer_starts_one(
    live: Opener,
) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["It is sunny."]))
    await s.start(with_functions({**WEATHER, "behavior": "NON_BLOCKING"}))
    s.feed(user_turn("Weather in Paris?"))
    await s.transport.until_sent(3)
    [call] = calls_in(s.sent)
    assert s.sent[2] == TURN_COMPLETE

    s.feed(tool_response(call["id"], SUNNY))  # WHEN_IDLE by default
    await s.transport.until_sent(6)
    assert text("It is sunny.") in s.sent
    assert s.llm.calls[1].messages[-1].result == FunctionResult(call["id"], "get_weather", SUNNY)


async def test_a_silent_answer_only_joins_the_history(live: Opener) -> None:
    s = live(Reply([], calls=[PARIS]), Reply(["Noted."]))
    await s.start(with_functions({**WEATHER, "behavior": "NON_BLOCKING"}))
    s.feed(user_turn("Weather in Paris?"))
    await s.transport.until_sent(3)
    [call] = calls_in(s.sent)
    s.feed(tool_response(call["id"], SUNNY, scheduling="SILENT"))
    await settle()
    assert len(s.llm.calls) == 1 and len(s.sent) == 3

    s.feed(user_turn("Thanks."))
    await s.transport.until_sent(6)
    assert [m.role for m in s.llm.calls[1].messages] == ["user", "assistant", "tool", "user"]


async def test_an_interrupting_answer_cuts_the_current_reply(live: Opener) -> None:
    s = live(
        Reply([], calls=[PARIS]),
        Reply(["A ", "long ", "story"], pause_before=1),
        Reply(["Sunny!"]),
    )
    await s.start(with_functions({**WEATHER, "behavior": "NON_BLOCKING"}))
    s.feed(user_turn("Weather in Paris, and a story?"))
    await s.transport.until_sent(3)
    [call] = calls_in(s.sent)
    s.feed(user_turn("Go on with the story."))
    await s.transport.until_sent(4)

    # The scheduling can also sit inside `response`, as in the documentation's example.
    s.feed(tool_response(call["id"], {**SUNNY, "scheduling": "INTERRUPT"}))
    await s.transport.until_sent(9)
    assert {"serverContent": {"interrupted": True}} in s.sent
    assert text("Sunny!") in s.sent
    assert s.llm.calls[1].cancelled


async def test_built_in_tools_are_refused_by_name(live: Opener) -> None:
    s = live()
    s.feed(setup(tools=[{"googleSearch": {}}]))
    await s.ended()
    assert s.transport.closed == (
        1007,
        "The built-in tool google_search is not available on this server.",
    )
    assert s.sent == []


async def test_a_context_update_replaces_the_functions(live: Opener) -> None:
    s = live(Reply(["Hi."]))
    await s.start(with_functions(WEATHER))
    s.feed({"contextUpdate": {"tools": {"tools": []}}})
    s.feed(user_turn("Hello."))
    await s.transport.until_sent(4)
    assert s.llm.calls[0].functions == []


def test_function_names_follow_the_sdks_rule_and_their_number_is_bounded() -> None:
    def declare(*names: str) -> Functions:
        return Functions.from_tools(
            [Tool.model_validate({"functionDeclarations": [{"name": n} for n in names]})]
        )

    fine = declare("get_weather", "_private", "ns.tool:v2-beta", "a" * 128)
    assert len(fine.specs) == 4
    for bad in ("do it; rm -rf /", "2fast", "", "a" * 129, "é"):
        with pytest.raises(InvalidArgument, match="Invalid function name"):
            declare(bad)
    declare(*(f"f{i}" for i in range(MAX_FUNCTIONS)))
    with pytest.raises(InvalidArgument, match=f"{MAX_FUNCTIONS} at most"):
        declare(*(f"f{i}" for i in range(MAX_FUNCTIONS + 1)))
