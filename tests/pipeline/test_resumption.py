"""Session resumption and goAway in `SessionRunner`, with scripted fakes and a store in
memory: when the session is resumable and when not, what a snapshot holds, what a
resumed session continues, and how the server ends a connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from openlive.backends.base import ChatMessage, FunctionCall, FunctionResult, Sampling, Usage
from openlive.pipeline.lifetime import ConnectionLimits
from openlive.pipeline.outbox import OUTBOX_SIZE
from openlive.pipeline.resumption import IN_FLIGHT, ResumptionSettings
from openlive.pipeline.runner import SessionRunner
from openlive.protocol.resumption import INVALID_HANDLE_REASON, Snapshot
from tests.fakes import PATIENCE, FakeTransport, Reply, ScriptedLLM, eventually, fake_backends

from .test_runner import (
    GENERATION_COMPLETE,
    INTERRUPTED,
    SESSION_ID,
    SETUP_COMPLETE,
    TURN_COMPLETE,
    Json,
    answer,
    assistant,
    settle,
    setup,
    text,
    user,
    user_turn,
)

NOT_RESUMABLE: Json = {"sessionResumptionUpdate": {"resumable": False}}
TTL = 100.0


@dataclass
class Record:
    snapshot: str
    expires: float


class MemoryStore:
    """The handle part of the server's store, in a dict, on a clock the test moves."""

    def __init__(self) -> None:
        self.handles: dict[str, Record] = {}
        self.now = 1_000.0

    async def put_handle(self, handle: str, snapshot: str, expires: float, now: float) -> None:
        self.handles[handle] = Record(snapshot, expires)

    async def get_handle(self, handle: str, now: float) -> Record | None:
        record = self.handles.get(handle)
        return record if record is not None and record.expires > now else None

    async def delete_handle(self, handle: str) -> bool:
        return self.handles.pop(handle, None) is not None

    def snapshot(self, handle: str) -> Snapshot:
        return Snapshot.decode(self.handles[handle].snapshot)


@dataclass
class Session:
    transport: FakeTransport
    llm: ScriptedLLM
    runner: SessionRunner
    task: asyncio.Task[None]

    @property
    def sent(self) -> list[Json]:
        return self.transport.sent

    def feed(self, frame: Json | None) -> None:
        self.transport.feed(frame)

    async def ended(self) -> None:
        done, _ = await asyncio.wait([self.task], timeout=PATIENCE)
        assert done, "run() did not return"
        self.task.result()


Opener = Callable[..., Session]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def open_session(store: MemoryStore) -> AsyncIterator[Opener]:
    sessions: list[Session] = []

    def opener(
        *script: Reply,
        limits: ConnectionLimits | None = None,
        owner: str = "key-a",
        session_id: str = SESSION_ID,
    ) -> Session:
        llm = ScriptedLLM(*script)
        transport = FakeTransport()
        settings = ResumptionSettings(store, ttl=TTL, clock=lambda: store.now)
        runner = SessionRunner(
            transport,
            fake_backends(llm),
            resumption=settings,
            limits=limits,
            owner=owner,
            session_id=session_id,
        )
        task = asyncio.create_task(runner.run(), name="session under test")
        session = Session(transport, llm, runner, task)
        sessions.append(session)
        return session

    yield opener
    for session in sessions:
        for call in session.llm.calls:
            call.resume.set()
        if not session.task.done():
            session.feed(None)
            done, _ = await asyncio.wait([session.task], timeout=PATIENCE)
            if not done:
                session.task.cancel()
                await asyncio.wait([session.task])
                pytest.fail("the session did not end when its client left")
    await settle()


def resumable_setup(handle: str | None = None, **fields: Any) -> Json:
    config: Json = {} if handle is None else {"handle": handle}
    return setup(sessionResumption=config, **fields)


def handle_in(message: Json) -> str:
    update = message["sessionResumptionUpdate"]
    assert update["resumable"] is True, message
    handle = update["newHandle"]
    assert isinstance(handle, str) and len(handle) >= 32
    return handle


def handles(sent: list[Json]) -> list[str]:
    return [
        m["sessionResumptionUpdate"]["newHandle"]
        for m in sent
        if m.get("sessionResumptionUpdate", {}).get("resumable")
    ]


# --- when the session is resumable ------------------------------------------------------


async def test_no_updates_without_session_resumption_in_setup(
    open_session: Opener, store: MemoryStore
) -> None:
    usage = Usage(5, 1)
    s = open_session(Reply(["Hi."], usage=usage))
    s.feed(setup())
    s.feed(user_turn("Hello"))
    await s.transport.until_sent(4)
    await settle()
    assert s.sent == [SETUP_COMPLETE, *answer(usage, "Hi.")]
    assert store.handles == {}


async def test_a_handle_after_setup_and_after_each_turn(
    open_session: Opener, store: MemoryStore
) -> None:
    first, second = Usage(5, 1), Usage(9, 1)
    s = open_session(Reply(["Hi."], usage=first), Reply(["Yes."], usage=second), Reply(["Ok."]))
    s.feed(resumable_setup())
    await s.transport.until_sent(2)
    assert s.sent[0] == SETUP_COMPLETE
    h0 = handle_in(s.sent[1])
    assert store.snapshot(h0).history == ()

    s.feed(user_turn("Hello"))
    await s.transport.until_sent(7)
    assert s.sent[2:6] == [NOT_RESUMABLE, *answer(first, "Hi.")]
    h1 = handle_in(s.sent[6])
    snapshot = store.snapshot(h1)
    assert [(e.role, e.text) for e in snapshot.history] == [("user", "Hello"), ("assistant", "Hi.")]
    assert snapshot.setup.session_resumption is not None
    # Without transparent mode there is no index on the wire.
    assert "lastConsumedClientMessageIndex" not in s.sent[6]["sessionResumptionUpdate"]

    s.feed(user_turn("Sure?"))
    await s.transport.until_sent(12)
    assert s.sent[7:11] == [NOT_RESUMABLE, *answer(second, "Yes.")]
    h2 = handle_in(s.sent[11])
    assert len({h0, h1, h2}) == 3
    # A client may not have received the newest ones: all are kept for a while,
    assert set(store.handles) == {h0, h1, h2}
    # then the newest two, and those superseded less than IN_FLIGHT seconds ago.
    store.now += IN_FLIGHT
    s.feed(user_turn("Again?"))
    await s.transport.until_sent(17)
    h3 = handle_in(s.sent[16])
    assert set(store.handles) == {h2, h3}


async def test_transparent_mode_counts_client_messages(open_session: Opener) -> None:
    s = open_session(Reply(["Hi."]))
    s.feed(setup(sessionResumption={"transparent": True}))
    await s.transport.until_sent(2)
    assert s.sent[1]["sessionResumptionUpdate"]["lastConsumedClientMessageIndex"] == "0"
    s.feed(
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "I'm Ada."}]}],
                "turnComplete": False,
            }
        }
    )
    s.feed(user_turn("Hello"))
    await s.transport.until_sent(8)
    # setup is 0, the two clientContent messages 1 and 2.
    assert s.sent[2]["sessionResumptionUpdate"]["lastConsumedClientMessageIndex"] == "1"
    assert s.sent[7]["sessionResumptionUpdate"]["lastConsumedClientMessageIndex"] == "2"


async def test_not_resumable_while_a_blocking_call_waits(
    open_session: Opener, store: MemoryStore
) -> None:
    usage = Usage(30, 2)
    paris = FunctionCall("get_weather", {"city": "Paris"})
    s = open_session(Reply([], calls=[paris]), Reply(["Sunny."], usage=usage))
    weather = {"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {}}}
    s.feed(resumable_setup(tools=[{"functionDeclarations": [weather]}]))
    s.feed(user_turn("Weather in Paris?"))
    await s.transport.until_sent(4)
    assert s.sent[2] == NOT_RESUMABLE
    call_id = s.sent[3]["toolCall"]["functionCalls"][0]["id"]
    await settle()
    assert len(s.sent) == 4, "no update while the call is pending"

    s.feed(
        {
            "toolResponse": {
                "functionResponses": [
                    {"id": call_id, "name": "get_weather", "response": {"output": "sun"}}
                ]
            }
        }
    )
    await s.transport.until_sent(8)
    assert s.sent[4:7] == answer(usage, "Sunny.")
    history = store.snapshot(handle_in(s.sent[7])).history
    assert [e.role for e in history] == ["user", "assistant", "tool", "assistant"]
    assert history[1].calls[0].args == {"city": "Paris"}
    assert history[2].result is not None and history[2].result.response == {"output": "sun"}


# --- resuming ---------------------------------------------------------------------------


async def test_a_resumed_session_continues_the_conversation(
    open_session: Opener, store: MemoryStore
) -> None:
    first, second = Usage(5, 1), Usage(12, 1)
    s = open_session(Reply(["Hi Ada."], usage=first))
    s.feed(
        resumable_setup(
            systemInstruction={"parts": [{"text": "Be terse."}]},
            generationConfig={"temperature": 0.2},
        )
    )
    s.feed(user_turn("I'm Ada."))
    await s.transport.until_sent(7)
    handle = handle_in(s.sent[6])
    s.feed(None)
    await s.ended()

    # The new setup names only the model and the handle: the rest is the old session's,
    # its id included (this connection would otherwise have been a new session).
    r = open_session(Reply(["Ada."], usage=second), session_id="a-new-session")
    r.feed(
        {
            "setup": {
                "model": "models/gemini-live-2.5-flash-preview",
                "sessionResumption": {"handle": handle},
            }
        }
    )
    await r.transport.until_sent(2)
    assert r.sent[0] == SETUP_COMPLETE
    assert handle_in(r.sent[1]) != handle
    r.feed(user_turn("Who am I?"))
    await r.transport.until_sent(7)
    assert r.sent[2:6] == [NOT_RESUMABLE, *answer(second, "Ada.")]
    [call] = r.llm.calls
    assert call.messages == [
        ChatMessage("system", "Be terse."),
        user("I'm Ada."),
        assistant("Hi Ada."),
        user("Who am I?"),
    ]
    assert call.sampling.temperature == 0.2


async def test_a_resuming_setup_may_change_the_config(
    open_session: Opener, store: MemoryStore
) -> None:
    s = open_session(Reply(["Hi."]))
    s.feed(resumable_setup(generationConfig={"temperature": 0.2}))
    s.feed(user_turn("Hello"))
    await s.transport.until_sent(7)
    handle = handle_in(s.sent[6])

    r = open_session(Reply(["Hi again."]))
    r.feed(resumable_setup(handle, generationConfig={"temperature": 0.7, "maxOutputTokens": 9}))
    r.feed(user_turn("Hello?"))
    await r.transport.until_sent(7)
    [call] = r.llm.calls
    assert call.sampling == Sampling(temperature=0.7, max_tokens=9)
    assert call.messages == [user("Hello"), assistant("Hi."), user("Hello?")]


async def test_changes_between_turns_are_resumable_at_once(
    open_session: Opener, store: MemoryStore
) -> None:
    s = open_session()
    s.feed(resumable_setup(systemInstruction={"parts": [{"text": "Old."}]}))
    await s.transport.until_sent(2)
    s.feed({"contextUpdate": {"systemInstruction": {"parts": [{"text": "New."}]}}})
    await s.transport.until_sent(3)
    stored = store.snapshot(handle_in(s.sent[2])).setup.system_instruction
    assert stored is not None and stored.text == "New."

    s.feed(user_turn("I'm Ada.", turn_complete=False))
    await s.transport.until_sent(4)
    history = store.snapshot(handle_in(s.sent[3])).history
    assert [(e.role, e.text) for e in history] == [("user", "I'm Ada.")]


async def test_a_context_update_during_a_turn_is_in_the_next_handle(
    open_session: Opener, store: MemoryStore
) -> None:
    s = open_session(Reply(["Yes."], pause_before=0))
    s.feed(resumable_setup(systemInstruction={"parts": [{"text": "Old."}]}))
    s.feed(user_turn("Noted?"))
    await eventually(lambda: bool(s.llm.calls) and s.llm.calls[0].paused.is_set())
    s.feed({"contextUpdate": {"systemInstruction": {"parts": [{"text": "New."}]}}})
    await s.transport.until_read()
    assert len(handles(s.sent)) == 1, "no handle while the answer runs"
    s.llm.calls[0].resume.set()
    await s.transport.until_sent(7)
    stored = store.snapshot(handles(s.sent)[-1]).setup.system_instruction
    assert stored is not None and stored.text == "New."


async def test_a_pending_non_blocking_call_is_resumed(
    open_session: Opener, store: MemoryStore
) -> None:
    rome = FunctionCall("get_weather", {"city": "Rome"})
    weather = {"name": "get_weather", "behavior": "NON_BLOCKING"}
    tools = [{"functionDeclarations": [weather]}]
    s = open_session(Reply([], calls=[rome]))
    s.feed(resumable_setup(tools=tools))
    s.feed(user_turn("Weather in Rome?"))
    await s.transport.until_sent(6)
    assert s.sent[4] == TURN_COMPLETE
    call_id = s.sent[3]["toolCall"]["functionCalls"][0]["id"]
    handle = handle_in(s.sent[5])
    [pending] = store.snapshot(handle).pending
    assert pending.call.id == call_id and not pending.blocking

    usage = Usage(20, 1)
    r = open_session(Reply(["Rainy in Rome."], usage=usage))
    r.feed(resumable_setup(handle, tools=tools))
    r.feed(
        {
            "toolResponse": {
                "functionResponses": [
                    {"id": call_id, "name": "get_weather", "response": {"output": "rain"}}
                ]
            }
        }
    )
    await r.transport.until_sent(7)
    assert r.sent[2:6] == [NOT_RESUMABLE, *answer(usage, "Rainy in Rome.")]
    [call] = r.llm.calls
    assert call.messages[-1] == ChatMessage(
        "tool", "", result=FunctionResult(call_id, "get_weather", {"output": "rain"})
    )
    assert r.transport.closed is None


async def test_an_unknown_handle_closes_with_1007(open_session: Opener) -> None:
    s = open_session()
    s.feed(resumable_setup("no-such-handle"))
    await s.ended()
    assert s.transport.closed == (1007, INVALID_HANDLE_REASON)
    assert s.sent == []


async def test_an_empty_handle_starts_a_new_session(open_session: Opener) -> None:
    s = open_session()
    s.feed(resumable_setup(""))
    await s.transport.until_sent(2)
    assert s.sent[0] == SETUP_COMPLETE
    handle_in(s.sent[1])
    assert s.transport.closed is None


async def test_a_handle_expires_ttl_after_its_session_ends(
    open_session: Opener, store: MemoryStore
) -> None:
    s = open_session()
    s.feed(resumable_setup())
    await s.transport.until_sent(2)
    handle = handle_in(s.sent[1])
    store.now += TTL * 5  # a long session: the handle lives on while it runs
    s.feed(None)
    await s.ended()

    store.now += TTL - 1
    r = open_session()
    r.feed(resumable_setup(handle))
    await r.transport.until_sent(2)
    assert r.sent[0] == SETUP_COMPLETE
    r.feed(None)
    await r.ended()

    store.now += TTL + 1
    late = open_session()
    late.feed(resumable_setup(handle))
    await late.ended()
    assert late.transport.closed == (1007, INVALID_HANDLE_REASON)


async def test_a_snapshot_this_server_cannot_read_closes_with_1007(
    open_session: Opener, store: MemoryStore
) -> None:
    store.handles["old"] = Record('{"version": 0}', store.now + TTL)
    s = open_session()
    s.feed(resumable_setup("old"))
    await s.ended()
    assert s.transport.closed == (1007, INVALID_HANDLE_REASON)


async def test_a_handle_resumes_only_on_the_credential_that_made_it(
    open_session: Opener,
) -> None:
    s = open_session(Reply(["Hi."], usage=Usage(5, 1)), owner="key-a")
    s.feed(resumable_setup())
    s.feed(user_turn("Hello."))
    await s.transport.until_sent(7)
    handle = handle_in(s.sent[6])
    s.feed(None)
    await s.ended()
    resume = resumable_setup(handle)
    other = open_session(owner="key-b")
    other.feed(resume)
    await other.ended()
    # Refused as an unknown handle would be: it tells nothing of the other session.
    assert other.transport.closed == (1007, INVALID_HANDLE_REASON)
    same = open_session(owner="key-a")
    same.feed(resume)
    await same.transport.until_sent(2)
    assert same.sent[0] == SETUP_COMPLETE


async def test_the_model_cannot_change_on_resume(open_session: Opener, store: MemoryStore) -> None:
    s = open_session()
    s.feed(resumable_setup())
    await s.transport.until_sent(2)
    handle = handle_in(s.sent[1])
    r = open_session()
    r.feed(
        {
            "setup": {
                "model": "models/gemini-2.0-flash-live-001",
                "sessionResumption": {"handle": handle},
            }
        }
    )
    await r.ended()
    assert r.transport.closed is not None and r.transport.closed[0] == 1007


# --- how the server ends a connection ---------------------------------------------------


async def test_the_connection_limit_sends_go_away_then_closes_with_1011(
    open_session: Opener,
) -> None:
    s = open_session(limits=ConnectionLimits(limit=0.0, go_away_before=0.0))
    await s.ended()
    assert s.sent == [{"goAway": {"timeLeft": "0s"}}]
    assert s.transport.closed == (1011, "Deadline expired before operation could complete.")


DEADLINE = (1011, "Deadline expired before operation could complete.")


async def test_a_connection_that_sends_no_setup_in_time_is_closed(open_session: Opener) -> None:
    """It would otherwise hold a session slot, doing nothing, until the connection limit."""
    s = open_session(limits=ConnectionLimits(limit=None, session=None, setup=0.05))
    await s.ended()
    assert s.sent == []
    assert s.transport.closed == DEADLINE


async def test_setup_in_time_lifts_the_setup_deadline(open_session: Opener) -> None:
    s = open_session(limits=ConnectionLimits(limit=None, session=None, setup=0.2))
    s.feed(resumable_setup())
    await asyncio.sleep(0.4)  # past the setup deadline, with the session open
    assert s.transport.closed is None
    assert s.sent[0] == SETUP_COMPLETE


def go_aways(sent: list[Json]) -> list[Json]:
    return [m for m in sent if "goAway" in m]


async def test_a_session_without_compression_ends_at_its_time_limit(
    open_session: Opener, store: MemoryStore
) -> None:
    s = open_session(limits=ConnectionLimits(limit=None, go_away_before=0.0, session=0.05))
    s.feed(resumable_setup())
    await s.ended()
    assert go_aways(s.sent) and s.transport.closed == DEADLINE
    assert store.snapshot(handles(s.sent)[-1]).elapsed >= 0.05  # counted on resumption


async def test_with_compression_a_session_has_no_time_limit(open_session: Opener) -> None:
    s = open_session(limits=ConnectionLimits(limit=None, go_away_before=0.0, session=0.01))
    s.feed(setup(contextWindowCompression={"slidingWindow": {}}))
    await s.transport.until_sent(1)
    await asyncio.sleep(0.1)  # ten times the limit it would have without compression
    assert s.sent == [SETUP_COMPLETE] and s.transport.closed is None


async def test_a_resumed_session_has_what_is_left_of_its_time(
    open_session: Opener, store: MemoryStore
) -> None:
    limits = ConnectionLimits(limit=None, go_away_before=0.0, session=PATIENCE * 50)
    first = open_session(limits=limits)
    first.feed(resumable_setup())
    await first.transport.until_sent(2)
    handle = handles(first.sent)[-1]
    # the stored session had already lasted all but a moment of its limit
    stored = store.snapshot(handle)
    store.handles[handle] = replace(
        store.handles[handle],
        snapshot=Snapshot(stored.setup, elapsed=PATIENCE * 50 - 0.05).encode(),
    )
    second = open_session(limits=limits)
    second.feed(resumable_setup(handle))
    await second.ended()
    assert second.transport.closed == DEADLINE


async def test_a_session_that_was_sent_video_has_the_shorter_limit(
    open_session: Opener, store: MemoryStore
) -> None:
    limits = ConnectionLimits(
        limit=None, go_away_before=0.0, session=PATIENCE * 50, video_session=0.05
    )
    first = open_session(limits=limits)
    first.feed(resumable_setup())
    await first.transport.until_sent(2)
    handle = handles(first.sent)[-1]
    assert not store.snapshot(handle).video
    stored = store.snapshot(handle)
    store.handles[handle] = replace(
        store.handles[handle], snapshot=Snapshot(stored.setup, video=True).encode()
    )
    second = open_session(limits=limits)
    second.feed(resumable_setup(handle))
    await second.ended()
    assert second.transport.closed == DEADLINE


async def test_stopping_lets_the_turn_finish_and_saves_it(
    open_session: Opener, store: MemoryStore
) -> None:
    usage = Usage(5, 2)
    s = open_session(Reply(["Once ", "upon."], usage=usage, pause_before=1))
    s.feed(resumable_setup())
    s.feed(user_turn("A story?"))
    await eventually(lambda: bool(s.llm.calls) and s.llm.calls[0].paused.is_set())

    s.runner.stop(grace=PATIENCE * 10)
    await s.transport.until_sent(5)
    assert s.sent[4] == {"goAway": {"timeLeft": "20s"}}
    s.llm.calls[0].resume.set()
    await s.ended()
    assert s.sent[5:8] == [text("upon."), GENERATION_COMPLETE, answer(usage)[-1]]
    history = store.snapshot(handles(s.sent)[-1]).history
    assert [e.text for e in history] == ["A story?", "Once upon."]
    assert s.transport.closed is not None and s.transport.closed[0] == 1012


async def test_stopping_without_grace_interrupts_and_saves_what_was_sent(
    open_session: Opener, store: MemoryStore
) -> None:
    s = open_session(Reply(["Once ", "upon."], pause_before=1))
    s.feed(resumable_setup())
    s.feed(user_turn("A story?"))
    await eventually(lambda: bool(s.llm.calls) and s.llm.calls[0].paused.is_set())
    await s.transport.until_sent(4)

    s.runner.stop(grace=0)
    await s.ended()
    assert s.sent[4:7] == [{"goAway": {"timeLeft": "0s"}}, INTERRUPTED, TURN_COMPLETE]
    history = store.snapshot(handles(s.sent)[-1]).history
    assert [e.text for e in history] == ["A story?", "Once "]
    assert s.transport.closed is not None and s.transport.closed[0] == 1012
    assert s.llm.calls[0].cancelled


async def test_stopping_an_idle_session(open_session: Opener, store: MemoryStore) -> None:
    s = open_session()
    s.feed(resumable_setup())
    await s.transport.until_sent(2)
    s.runner.stop(grace=5)
    await s.ended()
    assert s.sent[2] == {"goAway": {"timeLeft": "5s"}}
    assert len(handles(s.sent)) == 2
    assert s.transport.closed is not None and s.transport.closed[0] == 1012


async def test_a_client_that_does_not_read_is_still_closed_when_the_server_stops(
    open_session: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("openlive.pipeline.lifetime.SEND_TIMEOUT", 0.01)
    monkeypatch.setattr("openlive.pipeline.outbox.FLUSH_TIMEOUT", 0.01)
    s = open_session(Reply([f"w{i} " for i in range(OUTBOX_SIZE * 3)]))
    s.feed(resumable_setup())
    await s.transport.until_sent(2)
    s.transport.send_gate.clear()
    s.feed(user_turn("Count."))
    await eventually(lambda: bool(s.llm.calls) and len(s.llm.calls[0].produced) > OUTBOX_SIZE)

    s.runner.stop(grace=0)
    await s.ended()
    assert s.transport.closed is not None and s.transport.closed[0] == 1012
    assert s.llm.calls[0].cancelled
