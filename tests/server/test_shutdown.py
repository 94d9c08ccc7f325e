"""Stopping gracefully and purging, with no socket and no model: `drain` over sessions on
scripted fakes and a private store; the flags that set the limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openlive.cli.main import _config, build_parser
from openlive.pipeline.lifetime import ConnectionLimits
from openlive.pipeline.resumption import ResumptionSettings
from openlive.pipeline.runner import SessionRunner
from openlive.protocol.resumption import Snapshot
from openlive.server.app import AppState
from openlive.server.auth import KeyChecker
from openlive.server.shutdown import drain, purge_expired
from openlive.server.store import TOKEN_RETENTION, SQLiteStore
from openlive.server.tokens import Tokens
from tests.fakes import PATIENCE, FakeTransport, Reply, ScriptedLLM, eventually, fake_backends

MODEL = "models/gemini-live-2.5-flash-preview"
NOW = 1_800_000_000.0
SETUP = {
    "setup": {
        "model": MODEL,
        "generationConfig": {"responseModalities": ["TEXT"]},
        "sessionResumption": {},
    }
}


@pytest.fixture
async def store() -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(":memory:")
    yield opened
    await opened.close()


def newest_handle(sent: list[dict[str, Any]]) -> str:
    return [
        m["sessionResumptionUpdate"]["newHandle"]
        for m in sent
        if m.get("sessionResumptionUpdate", {}).get("resumable")
    ][-1]


async def test_drain_lets_turns_finish_then_saves_and_closes(store: SQLiteStore) -> None:
    llm = ScriptedLLM(Reply(["Once ", "upon."], pause_before=1))
    settings = ResumptionSettings(store, clock=lambda: NOW)
    state = AppState(backends=fake_backends(llm), keys=KeyChecker(()), tokens=Tokens(store))
    busy, idle = FakeTransport(), FakeTransport()
    runners = {
        t: SessionRunner(t, state.backends, resumption=settings, limits=ConnectionLimits(None))
        for t in (busy, idle)
    }
    tasks = []
    for transport, runner in runners.items():
        state.sessions.add(runner)
        task = asyncio.create_task(runner.run())
        task.add_done_callback(lambda _, r=runner: state.sessions.discard(r))
        tasks.append(task)
        transport.feed(SETUP)
    busy.feed({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "A story?"}]}]}})
    await eventually(lambda: bool(llm.calls) and llm.calls[0].paused.is_set())
    await idle.until_sent(2)

    draining = asyncio.create_task(drain(state, grace=PATIENCE * 10))
    await eventually(lambda: {"goAway": {"timeLeft": "20s"}} in busy.sent)
    assert not state.accepting
    await eventually(lambda: idle.closed is not None)
    assert not draining.done(), "the busy session is still finishing its turn"
    llm.calls[0].resume.set()
    async with asyncio.timeout(PATIENCE):
        await draining
    await asyncio.gather(*tasks)

    for transport in (busy, idle):
        assert transport.closed is not None and transport.closed[0] == 1012
        assert {"goAway": {"timeLeft": "20s"}} in transport.sent
    record = await store.get_handle(newest_handle(busy.sent), NOW)
    assert record is not None
    history = Snapshot.decode(record.snapshot).history
    assert [e.text for e in history] == ["A story?", "Once upon."]


class PurgeRecorder:
    def __init__(self) -> None:
        self.purged: list[float] = []

    async def purge(self, before: float) -> int:
        self.purged.append(before)
        return 1


async def test_the_purge_runs_at_once_and_keeps_expired_tokens_a_day() -> None:
    recorder = PurgeRecorder()
    purging = asyncio.create_task(purge_expired(recorder, lambda: NOW, every=3600))  # type: ignore[arg-type]
    try:
        await eventually(lambda: bool(recorder.purged))
    finally:
        purging.cancel()
        await asyncio.gather(purging, return_exceptions=True)
    assert recorder.purged == [NOW - TOKEN_RETENTION]


def test_the_flags() -> None:
    parse = build_parser().parse_args
    default = _config(parse(["serve"]))
    assert default.resumption_ttl == 7200
    assert default.connection_limit == 600
    assert default.go_away_before == 50
    assert default.shutdown_grace == 10
    custom = _config(
        parse(
            [
                "serve",
                "--resumption-ttl",
                "60",
                "--connection-limit",
                "0",
                "--go-away-before",
                "2.5",
                "--shutdown-grace",
                "0",
            ]
        )
    )
    assert custom.resumption_ttl == 60
    assert custom.connection_limit is None
    assert custom.go_away_before == 2.5
    assert custom.shutdown_grace == 0


@pytest.mark.parametrize("value", ["-1", "soon", "inf", "nan"])
def test_a_bad_number_of_seconds_is_refused(value: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--connection-limit", value])
