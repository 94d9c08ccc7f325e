"""`SessionRunner` driven end to end with scripted fakes: no socket, no model.

Each test feeds client frames to a `FakeTransport`, scripts the replies of a
`ScriptedLLM`, and checks the exact server messages in order, the close code, and what
the LLM was asked and whether it was stopped. The tests wait on what the fakes record,
never on wall-clock time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from openlive.backends.base import ChatMessage, LLMError, Sampling, Usage
from openlive.pipeline.outbox import OUTBOX_SIZE
from openlive.pipeline.runner import SessionRunner
from tests.fakes import (
    PATIENCE,
    FakeTransport,
    Reply,
    ScriptedLLM,
    eventually,
    fake_backends,
)

MODEL = "models/gemini-live-2.5-flash-preview"
NATIVE_AUDIO_MODEL = "models/gemini-2.5-flash-native-audio-preview-09-2025"

Json = dict[str, Any]

# --- server messages, as the client decodes them ---------------------------------------

SESSION_ID = "session-under-test"
SETUP_COMPLETE: Json = {"setupComplete": {"sessionId": SESSION_ID}}
GENERATION_COMPLETE: Json = {"serverContent": {"generationComplete": True}}
INTERRUPTED: Json = {"serverContent": {"interrupted": True}}
DONE: Json = {"turnComplete": True, "waitingForInput": True, "interactionStatus": "IDLE"}
"""The serverContent of a turn after which the session waits for the user."""
TURN_COMPLETE: Json = {"serverContent": DONE}
TURN_GOES_ON: Json = {"serverContent": {"turnComplete": True, "interactionStatus": "IN_PROGRESS"}}
"""A bare turnComplete after which another answer follows."""


def text(delta: str) -> Json:
    return {"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": delta}]}}}


def turn_complete(prompt: int, response: int, *, more: bool = False) -> Json:
    """turnComplete with usage; `more`: another answer follows it."""
    return {
        "serverContent": TURN_GOES_ON["serverContent"] if more else DONE,
        "usageMetadata": {
            "promptTokenCount": prompt,
            "responseTokenCount": response,
            "totalTokenCount": prompt + response,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            "responseTokensDetails": [{"modality": "TEXT", "tokenCount": response}],
        },
    }


def answer(usage: Usage, *deltas: str, more: bool = False) -> list[Json]:
    """A whole model turn: its text parts, generationComplete, turnComplete with usage
    (`more`: another answer follows it)."""
    return [
        *(text(d) for d in deltas),
        GENERATION_COMPLETE,
        turn_complete(usage.prompt_tokens, usage.response_tokens, more=more),
    ]


# --- client messages ------------------------------------------------------------------


def setup(model: str = MODEL, modality: str = "TEXT", **fields: Any) -> Json:
    body: Json = {"model": model, "generationConfig": {"responseModalities": [modality]}}
    for name, value in fields.items():
        if isinstance(value, dict) and isinstance(body.get(name), dict):
            body[name] = {**body[name], **value}
        else:
            body[name] = value
    return {"setup": body}


def user_turn(said: str, turn_complete: bool = True) -> Json:
    return {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": said}]}],
            "turnComplete": turn_complete,
        }
    }


def realtime_text(said: str) -> Json:
    return {"realtimeInput": {"text": said}}


def user(content: str) -> ChatMessage:
    return ChatMessage("user", content)


def assistant(content: str) -> ChatMessage:
    return ChatMessage("assistant", content)


def model_texts(messages: list[Json]) -> list[str]:
    return [
        part["text"]
        for m in messages
        if "modelTurn" in m.get("serverContent", {})
        for part in m["serverContent"]["modelTurn"]["parts"]
    ]


async def settle(turns: int = 200) -> None:
    """Let every runnable task take `turns` more steps (a count, not a duration)."""
    for _ in range(turns):
        await asyncio.sleep(0)


# --- the session under test ---------------------------------------------------------


@dataclass
class Live:
    transport: FakeTransport
    llm: ScriptedLLM
    task: asyncio.Task[None]
    tasks_before: set[asyncio.Task[Any]]

    @property
    def sent(self) -> list[Json]:
        return self.transport.sent

    def feed(self, frame: str | Json | None) -> None:
        self.transport.feed(frame)

    async def start(self, message: Json | None = None) -> None:
        """Send a setup (TEXT on a half-cascade model unless given) and wait for its answer."""
        self.feed(message or setup())
        await self.transport.until_sent(1)
        assert self.sent == [SETUP_COMPLETE]

    async def ended(self) -> None:
        """Wait for `run()` to return; fail if it does not, or if it raised."""
        done, _ = await asyncio.wait([self.task], timeout=PATIENCE)
        assert done, "run() did not return"
        self.task.result()

    def leftover_tasks(self) -> set[asyncio.Task[Any]]:
        return asyncio.all_tasks() - self.tasks_before - {self.task}


Opener = Callable[..., Live]


@pytest.fixture
async def live() -> AsyncIterator[Opener]:
    """Opens sessions on a `ScriptedLLM` given its replies; ends what is left running."""
    sessions: list[Live] = []

    def open_session(*script: Reply) -> Live:
        before = asyncio.all_tasks()
        llm = ScriptedLLM(*script)
        transport = FakeTransport()
        runner = SessionRunner(transport, fake_backends(llm), session_id=SESSION_ID)
        task = asyncio.create_task(runner.run(), name="session under test")
        session = Live(transport, llm, task, before)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        for call in session.llm.calls:
            call.release.set()  # a reply that a failed test left holding the model
        if not session.task.done():
            session.transport.send_gate.set()
            session.feed(None)
            done, _ = await asyncio.wait([session.task], timeout=PATIENCE)
            if not done:
                session.task.cancel()
                await asyncio.wait([session.task])
                pytest.fail("the session did not end when its client left")
    await settle()


# --- 1. a turn and its answer -------------------------------------------------------------


async def test_a_turn_is_answered_in_order(live: Opener) -> None:
    first, second = Usage(7, 3), Usage(12, 1)
    s = live(
        Reply(["Hello", ", ", "world"], usage=first, delay=0.001),
        Reply(["Fine."], usage=second),
    )
    await s.start()

    s.feed(user_turn("Hi"))
    await s.transport.until_sent(6)
    assert s.sent == [SETUP_COMPLETE, *answer(first, "Hello", ", ", "world")]

    s.feed(user_turn("How are you?"))
    await s.transport.until_sent(9)
    assert s.sent == [
        SETUP_COMPLETE,
        *answer(first, "Hello", ", ", "world"),
        *answer(second, "Fine."),
    ]
    assert s.llm.calls[0].messages == [user("Hi")]
    assert s.llm.calls[1].messages == [user("Hi"), assistant("Hello, world"), user("How are you?")]
    assert [c.finished for c in s.llm.calls] == [True, True]

    s.feed(None)
    await s.ended()
    assert s.transport.closed is None


# --- 2. context without an answer ---------------------------------------------------------


async def test_an_incomplete_turn_adds_context_without_an_answer(live: Opener) -> None:
    usage = Usage(20, 2)
    s = live(Reply(["Ada", "."], usage=usage))
    await s.start(
        setup(
            systemInstruction={"parts": [{"text": "You are terse."}]},
            generationConfig={"temperature": 0.3, "maxOutputTokens": 50},
        )
    )

    s.feed(
        {
            "clientContent": {
                "turns": [
                    {"role": "user", "parts": [{"text": "My name is Ada."}]},
                    {"role": "model", "parts": [{"text": "Nice to meet you."}]},
                ],
                "turnComplete": False,
            }
        }
    )
    await s.transport.until_read()
    await settle()
    assert s.llm.calls == []
    assert s.sent == [SETUP_COMPLETE]

    s.feed(user_turn("What is my name?"))
    await s.transport.until_sent(5)
    assert s.sent == [SETUP_COMPLETE, *answer(usage, "Ada", ".")]
    [call] = s.llm.calls
    assert call.messages == [
        ChatMessage("system", "You are terse."),
        user("My name is Ada."),
        assistant("Nice to meet you."),
        user("What is my name?"),
    ]
    assert call.sampling == Sampling(temperature=0.3, max_tokens=50)


async def test_initial_history_is_taken_without_an_answer(live: Opener) -> None:
    """historyConfig.initialHistoryInClientContent: the clientContent before the first
    real turn, its own turnComplete included, is history; the next turn is answered."""
    usage = Usage(20, 2)
    s = live(Reply(["Ada", "."], usage=usage))
    await s.start(setup(historyConfig={"initialHistoryInClientContent": True}))
    s.feed(user_turn("My name is Ada.", turn_complete=False))
    s.feed(
        {
            "clientContent": {
                "turns": [{"role": "model", "parts": [{"text": "Nice to meet you."}]}],
                "turnComplete": True,
            }
        }
    )
    await s.transport.until_read()
    await settle()
    assert s.llm.calls == [] and s.sent == [SETUP_COMPLETE]

    s.feed(realtime_text("What is my name?"))
    await s.transport.until_sent(5)
    assert s.sent == [SETUP_COMPLETE, *answer(usage, "Ada", ".")]
    assert s.llm.calls[0].messages == [
        user("My name is Ada."),
        assistant("Nice to meet you."),
        user("What is my name?"),
    ]


# --- 3. interruption --------------------------------------------------------------------


@pytest.mark.parametrize(
    "interruption",
    [user_turn("Stop."), realtime_text("Stop.")],
    ids=["clientContent", "realtimeInput.text"],
)
async def test_new_input_interrupts_the_reply(live: Opener, interruption: Json) -> None:
    usage = Usage(9, 1)
    s = live(Reply(["Once ", "upon ", "a time"], pause_before=2), Reply(["OK."], usage=usage))
    await s.start()

    s.feed(user_turn("Tell me a story."))
    await s.transport.until_sent(3)
    first = s.llm.calls[0]
    assert first.running

    s.feed(interruption)
    await s.transport.until_sent(8)
    assert s.sent == [
        SETUP_COMPLETE,
        text("Once "),
        text("upon "),
        INTERRUPTED,
        TURN_GOES_ON,
        *answer(usage, "OK."),
    ]
    assert first.cancelled
    assert not s.llm.calls[1].overlapped
    assert s.llm.calls[1].messages == [
        user("Tell me a story."),
        assistant("Once upon "),
        user("Stop."),
    ]


async def test_an_answer_stopped_by_the_users_activity_waits_for_them(live: Opener) -> None:
    """Interrupted by the start of the user's activity, nothing follows yet: the model
    waits for the user (as it does after a turn that asks for nothing more)."""
    s = live(Reply(["Once ", "upon ", "a time"], pause_before=2))
    manual = {"automaticActivityDetection": {"disabled": True}}
    await s.start(setup(realtimeInputConfig=manual))
    s.feed(user_turn("Tell me a story."))
    await s.transport.until_sent(3)
    s.feed({"realtimeInput": {"activityStart": {}}})
    await s.transport.until_sent(5)
    assert s.sent[3:] == [INTERRUPTED, TURN_COMPLETE]
    assert s.llm.calls[0].cancelled


async def test_an_interrupted_turn_keeps_only_what_was_sent(live: Opener) -> None:
    """With a client that reads slowly, more is generated than sent; only the sent stays."""
    usage = Usage(9, 1)
    s = live(Reply([f"w{i} " for i in range(OUTBOX_SIZE * 3)]), Reply(["OK."], usage=usage))
    await s.start()
    s.transport.send_gate.clear()

    s.feed(user_turn("Count."))
    await eventually(lambda: bool(s.llm.calls) and len(s.llm.calls[0].produced) > OUTBOX_SIZE)
    await settle()
    s.feed(user_turn("Stop."))
    await settle()
    s.transport.send_gate.set()
    await eventually(lambda: s.sent[-1:] == [turn_complete(9, 1)])

    first, second = s.llm.calls
    assert first.cancelled
    got = model_texts(s.sent[: s.sent.index(INTERRUPTED)])
    assert len(got) < len(first.produced), "nothing was generated beyond what was sent"
    assert got == first.produced[: len(got)]
    assert s.sent[1 + len(got) :] == [INTERRUPTED, TURN_GOES_ON, *answer(usage, "OK.")]
    assert second.messages == [user("Count."), assistant("".join(got)), user("Stop.")]


async def test_an_interruption_waits_for_the_llm_to_stop(live: Opener) -> None:
    """Cancelled while the client is slow, the reply must free the model before the next."""
    s = live(Reply([f"w{i} " for i in range(OUTBOX_SIZE * 3)], hold_stop=True), Reply(["OK."]))
    await s.start()
    s.transport.send_gate.clear()
    s.feed(user_turn("Count."))
    await eventually(lambda: bool(s.llm.calls) and len(s.llm.calls[0].produced) > OUTBOX_SIZE)
    await settle()

    s.feed(user_turn("Stop."))
    await settle()
    s.transport.send_gate.set()
    await settle()
    first = s.llm.calls[0]
    assert first.cancelled
    assert len(s.llm.calls) == 1, "the next reply began before the interrupted one stopped"

    first.release.set()
    await eventually(lambda: s.sent[-1:] == [turn_complete(5, 3)])
    assert not s.llm.calls[1].overlapped


# --- 4. NO_INTERRUPTION -------------------------------------------------------------------

NO_INTERRUPTION = setup(realtimeInputConfig={"activityHandling": "NO_INTERRUPTION"})


async def test_no_interruption_answers_after_the_reply(live: Opener) -> None:
    first, second = Usage(4, 2), Usage(8, 1)
    s = live(
        Reply(["First ", "answer."], usage=first, pause_before=1),
        Reply(["Second."], usage=second),
    )
    await s.start(NO_INTERRUPTION)

    s.feed(realtime_text("One?"))
    await s.transport.until_sent(2)
    s.feed(realtime_text("Two?"))
    await s.transport.until_read()
    await settle()
    assert s.sent == [SETUP_COMPLETE, text("First ")]
    assert len(s.llm.calls) == 1
    assert s.llm.calls[0].running

    s.llm.calls[0].resume.set()
    await s.transport.until_sent(8)
    assert s.sent == [
        SETUP_COMPLETE,
        *answer(first, "First ", "answer.", more=True),
        *answer(second, "Second."),
    ]
    assert s.llm.calls[0].finished
    assert not s.llm.calls[0].cancelled


async def test_no_interruption_keeps_the_history_in_order(live: Opener) -> None:
    s = live(Reply(["First ", "answer."], pause_before=1), Reply(["Second."]))
    await s.start(NO_INTERRUPTION)

    s.feed(realtime_text("One?"))
    await s.transport.until_sent(2)
    s.feed(realtime_text("Two?"))
    await s.transport.until_read()
    s.llm.calls[0].resume.set()
    await s.transport.until_sent(8)
    assert s.llm.calls[1].messages == [user("One?"), assistant("First answer."), user("Two?")]


# --- 5. the client leaves -----------------------------------------------------------------


async def test_a_disconnect_mid_reply_stops_everything(live: Opener) -> None:
    s = live(Reply(["a", "b", "c"], pause_before=1, hold_stop=True))
    await s.start()
    s.feed(user_turn("Hi"))
    await s.transport.until_sent(2)
    call = s.llm.calls[0]
    await call.paused.wait()

    s.feed(None)
    await settle()
    assert call.cancelled
    assert not s.task.done(), "run() returned before the LLM had stopped"
    call.release.set()
    await s.ended()
    assert s.transport.closed is None
    assert call.stopped
    assert s.llm.conversations[0].closed
    assert s.leftover_tasks() == set()
    assert s.sent == [SETUP_COMPLETE, text("a")]


async def test_a_disconnect_while_the_client_is_slow_stops_everything(live: Opener) -> None:
    """The reply is stopped at a `yield`, waiting for room in the outbox, not in the LLM."""
    s = live(Reply([f"w{i} " for i in range(OUTBOX_SIZE * 3)]))
    await s.start()
    s.transport.send_gate.clear()
    s.feed(user_turn("Count."))
    await eventually(lambda: bool(s.llm.calls) and len(s.llm.calls[0].produced) > OUTBOX_SIZE)
    await settle()

    s.feed(None)
    await s.ended()
    assert s.transport.closed is None
    assert s.llm.calls[0].cancelled
    assert s.llm.conversations[0].closed
    assert s.leftover_tasks() == set()


async def test_a_disconnect_while_the_client_is_slow_waits_for_the_llm(live: Opener) -> None:
    s = live(Reply([f"w{i} " for i in range(OUTBOX_SIZE * 3)], hold_stop=True))
    await s.start()
    s.transport.send_gate.clear()
    s.feed(user_turn("Count."))
    await eventually(lambda: bool(s.llm.calls) and len(s.llm.calls[0].produced) > OUTBOX_SIZE)
    await settle()
    call = s.llm.calls[0]

    s.feed(None)
    await settle()
    assert call.cancelled
    assert not s.task.done(), "run() returned before the LLM had stopped"
    call.release.set()
    await s.ended()
    assert call.stopped
    assert s.leftover_tasks() == set()


# --- 6. errors close the session ---------------------------------------------------------

FUNCTION_RESPONSE = {
    "toolResponse": {"functionResponses": [{"id": "call-1", "name": "f", "response": {}}]}
}


@pytest.mark.parametrize(
    ("frames", "code", "reason"),
    [
        pytest.param(
            [realtime_text("hi")], 1007, "The first message must be setup.", id="before-setup"
        ),
        pytest.param(
            [setup("models/no-such-model")],
            1008,
            "Requested entity was not found.",
            id="unknown-model",
        ),
        pytest.param(
            [setup(modality="AUDIO")],
            1007,
            "Response modality AUDIO is not available on this server.",
            id="audio-modality",
        ),
        pytest.param(
            [setup(NATIVE_AUDIO_MODEL)],
            1007,
            "The requested combination of response modalities (TEXT) is not supported by the "
            "model.",
            id="native-audio-text",
        ),
        pytest.param(
            [setup(tools=[{"googleSearch": {}}])],
            1007,
            "The built-in tool google_search is not available on this server.",
            id="builtin-tool",
        ),
        pytest.param(
            ["{not json"], 1007, "Invalid JSON payload received. Unexpected token.", id="bad-json"
        ),
    ],
)
async def test_a_bad_first_message_closes(
    live: Opener, frames: list[str | Json], code: int, reason: str
) -> None:
    s = live()
    for frame in frames:
        s.feed(frame)
    await s.ended()
    assert s.transport.closed == (code, reason)
    assert s.sent == []
    assert s.llm.conversations == []
    assert s.leftover_tasks() == set()


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        pytest.param(
            setup(), 1007, "setup may be sent only once, as the first message.", id="second-setup"
        ),
        pytest.param(
            "{not json", 1007, "Invalid JSON payload received. Unexpected token.", id="bad-json"
        ),
        pytest.param(
            FUNCTION_RESPONSE,
            1007,
            "Function response id call-1 matches no pending call.",
            id="no-pending-call",
        ),
        pytest.param(
            {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAAA"}}},
            1007,
            "Audio input is not available on this server.",
            id="audio-input",
        ),
    ],
)
async def test_a_bad_message_after_setup_closes(
    live: Opener, frame: str | Json, code: int, reason: str
) -> None:
    s = live()
    await s.start()
    s.feed(frame)
    await s.ended()
    assert s.transport.closed == (code, reason)
    assert s.sent == [SETUP_COMPLETE]
    assert s.llm.conversations[0].closed
    assert s.leftover_tasks() == set()


async def test_an_llm_failure_mid_reply_closes_with_1011(live: Opener) -> None:
    s = live(Reply(["partial"], pause_before=1, error=LLMError("engine crashed")))
    await s.start()
    s.feed(user_turn("Hi"))
    await s.transport.until_sent(2)
    call = s.llm.calls[0]
    await call.paused.wait()

    call.resume.set()
    await s.ended()
    assert call.failed
    assert s.transport.closed == (1011, "Internal error encountered.")
    assert s.sent == [SETUP_COMPLETE, text("partial")]
    assert s.llm.conversations[0].closed
    assert s.leftover_tasks() == set()


async def test_an_llm_failure_is_logged_as_such(
    live: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    s = live(Reply(["partial"], error=LLMError("engine crashed")))
    await s.start()
    with caplog.at_level(logging.INFO, logger="openlive.pipeline.runner"):
        s.feed(user_turn("Hi"))
        await s.ended()
    assert s.transport.closed == (1011, "Internal error encountered.")
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert messages == ["LLM failed: engine crashed"]


async def test_messages_queued_before_an_error_are_sent_before_the_close(live: Opener) -> None:
    """A client that sends setup and a bad message at once still gets its setupComplete."""
    s = live()
    s.feed(setup())
    s.feed(setup())
    await s.ended()
    assert s.transport.closed == (1007, "setup may be sent only once, as the first message.")
    assert s.sent == [SETUP_COMPLETE]


# --- 7. a slow client -----------------------------------------------------------------


async def test_a_slow_client_slows_the_llm(live: Opener) -> None:
    usage = Usage(3, OUTBOX_SIZE * 4)
    deltas = [f"w{i} " for i in range(OUTBOX_SIZE * 4)]
    s = live(Reply(deltas, usage=usage))
    await s.start()
    s.transport.send_gate.clear()

    s.feed(user_turn("Count."))
    await eventually(lambda: bool(s.llm.calls) and len(s.llm.calls[0].produced) >= OUTBOX_SIZE)
    await settle(OUTBOX_SIZE * 4)
    call = s.llm.calls[0]
    assert OUTBOX_SIZE <= len(call.produced) <= OUTBOX_SIZE + 3
    assert call.running
    assert s.sent == [SETUP_COMPLETE]

    s.transport.send_gate.set()
    await s.transport.until_sent(1 + len(deltas) + 2)
    assert s.sent == [SETUP_COMPLETE, *answer(usage, *deltas)]
    assert call.finished
