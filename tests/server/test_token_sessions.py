"""Sessions admitted on ephemeral tokens, with no socket and no model: `Tokens` on a
private store, and `SessionRunner` driven by the scripted fakes. The clock is the
test's, so expiry is exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from openlive.backends.base import ChatMessage
from openlive.pipeline.resumption import ResumptionSettings
from openlive.pipeline.runner import SessionRunner
from openlive.protocol.errors import CredentialExpired, InvalidArgument, PermissionDenied
from openlive.protocol.messages import Setup
from openlive.protocol.resumption import Snapshot
from openlive.server.auth import KeyChecker, key_fingerprint
from openlive.server.store import SQLiteStore
from openlive.server.tokens import Tokens, TokenSession
from tests.fakes import PATIENCE, FakeTransport, Reply, ScriptedLLM, fake_backends

MODEL = "models/gemini-live-2.5-flash-preview"
NOW = 1_800_000_000.0


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Fixture:
    tokens: Tokens
    store: SQLiteStore
    clock: Clock


@pytest.fixture
async def env() -> AsyncIterator[Fixture]:
    store = await SQLiteStore.open(":memory:")
    clock = Clock()
    yield Fixture(Tokens(store, clock), store, clock)
    await store.close()


def setup(system: str = "You are a pirate.", **fields: Any) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "generationConfig": {"responseModalities": ["TEXT"], "temperature": 1.5},
        "systemInstruction": {"parts": [{"text": system}]},
        **fields,
    }
    return {"setup": body}


def user_turn(text: str) -> dict[str, Any]:
    return {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": text}]}],
            "turnComplete": True,
        }
    }


async def session(
    guard: TokenSession, *script: Reply, resumption: ResumptionSettings | None = None
) -> tuple[FakeTransport, ScriptedLLM, asyncio.Task[None]]:
    llm = ScriptedLLM(*script)
    transport = FakeTransport()
    runner = SessionRunner(
        transport, fake_backends(llm), guard=guard, resumption=resumption, session_id="s-1"
    )
    return transport, llm, asyncio.create_task(runner.run())


async def ended(transport: FakeTransport, task: asyncio.Task[None]) -> tuple[int, str] | None:
    transport.feed(None)
    done, _ = await asyncio.wait([task], timeout=PATIENCE)
    assert done
    return transport.closed


async def refused(guard: TokenSession) -> tuple[int, str] | None:
    transport, _, task = await session(guard)
    transport.feed(setup())
    done, _ = await asyncio.wait([task], timeout=PATIENCE)
    assert done, "the session was not refused"
    assert transport.sent == []
    return transport.closed


# --- creating -----------------------------------------------------------------------------


async def test_a_token_is_named_and_its_creator_kept_as_a_fingerprint(env: Fixture) -> None:
    name = await env.tokens.create({"uses": 2}, "the-key")
    assert name.startswith("auth_tokens/") and len(name) == len("auth_tokens/") + 64
    record = await env.store.get_token(name)
    assert record is not None
    assert record.uses_left == 2
    assert record.creator == key_fingerprint("the-key") != "the-key"
    assert record.expire_time == NOW + 1800
    assert await env.tokens.create({}, "k") != await env.tokens.create({}, "k")


async def test_a_bad_request_creates_nothing(env: Fixture) -> None:
    with pytest.raises(InvalidArgument):
        await env.tokens.create({"uses": 1, "liveConnectConstraints": {}}, "k")
    assert await env.store.purge(NOW + 10**6) == 0


# --- admitting ------------------------------------------------------------------------------


async def test_unknown_and_expired_tokens_are_refused_as_the_socket_opens(env: Fixture) -> None:
    with pytest.raises(PermissionDenied) as unknown:
        await env.tokens.admit("auth_tokens/nothing")
    assert (unknown.value.code, unknown.value.reason) == (1008, "Token is not valid.")
    name = await env.tokens.create({"expireTime": "2027-01-15T08:10:00Z"}, "k")
    env.clock.now = NOW + 600
    with pytest.raises(CredentialExpired) as expired:
        await env.tokens.admit(name)
    assert (expired.value.code, expired.value.reason) == (1011, "Token has expired")


async def test_one_use_one_session(env: Fixture) -> None:
    name = await env.tokens.create({"uses": 1}, "k")
    first, second = await env.tokens.admit(name), await env.tokens.admit(name)
    transport, _, task = await session(first)
    transport.feed(setup())
    await transport.until_sent(1)
    assert transport.sent == [{"setupComplete": {"sessionId": "s-1"}}]
    assert await refused(second) == (1011, "Token has been used too many times")
    assert await ended(transport, task) is None


async def test_uses_are_counted_per_session(env: Fixture) -> None:
    name = await env.tokens.create({"uses": 3}, "k")
    for _ in range(3):
        transport, _, task = await session(await env.tokens.admit(name))
        transport.feed(setup())
        await transport.until_sent(1)
        await ended(transport, task)
    assert await refused(await env.tokens.admit(name)) == (
        1011,
        "Token has been used too many times",
    )


async def test_no_new_session_after_new_session_expire_time(env: Fixture) -> None:
    name = await env.tokens.create({"uses": 0}, "k")  # no limit, new sessions for 60 s
    guard = await env.tokens.admit(name)
    env.clock.now = NOW + 60
    assert await refused(guard) == (1011, "Token has expired for new sessions")


async def test_resuming_takes_no_use_and_ignores_new_session_expire_time(env: Fixture) -> None:
    name = await env.tokens.create({"uses": 1}, "k")
    stored = Snapshot(setup=Setup.model_validate(setup(sessionResumption={})["setup"]))
    await env.store.put_handle("handle-1", stored.encode(), NOW + 3600, NOW)
    resumption = ResumptionSettings(env.store, clock=env.clock)
    transport, _, task = await session(await env.tokens.admit(name), resumption=resumption)
    transport.feed(setup())
    await transport.until_sent(1)
    await ended(transport, task)
    env.clock.now = NOW + 120  # spent, and past newSessionExpireTime
    for _ in range(2):
        transport, _, task = await session(await env.tokens.admit(name), resumption=resumption)
        transport.feed(setup(sessionResumption={"handle": "handle-1"}))
        await transport.until_sent(2)
        assert transport.sent[0] == {"setupComplete": {"sessionId": "s-1"}}
        assert transport.sent[1]["sessionResumptionUpdate"]["resumable"] is True
        await ended(transport, task)
    unknown_handle = setup(sessionResumption={"handle": "made-up"})
    transport, _, task = await session(await env.tokens.admit(name), resumption=resumption)
    transport.feed(unknown_handle)
    done, _ = await asyncio.wait([task], timeout=PATIENCE)
    assert done and transport.closed == (1011, "Token has expired for new sessions")


# --- locking ------------------------------------------------------------------------------


async def test_a_locked_system_instruction_is_what_the_model_gets(env: Fixture) -> None:
    name = await env.tokens.create(
        {
            "bidiGenerateContentSetup": {
                "model": MODEL,
                "generationConfig": {"temperature": 0.2},
                "systemInstruction": {"parts": [{"text": "Answer in French."}], "role": "user"},
            },
            "fieldMask": "model,generationConfig.temperature,systemInstruction",
        },
        "k",
    )
    transport, llm, task = await session(
        await env.tokens.admit(name), Reply(["Bonjour"]), Reply(["Salut"])
    )
    transport.feed(setup(system="Answer in pirate speak.", model="models/no-such-model"))
    transport.feed(user_turn("Hello"))
    await transport.until_sent(4)
    transport.feed({"contextUpdate": {"systemInstruction": {"parts": [{"text": "Be a pirate."}]}}})
    transport.feed(user_turn("Again"))
    await transport.until_sent(7)
    assert await ended(transport, task) is None
    for call in llm.calls:
        assert call.messages[0] == ChatMessage("system", "Answer in French.")
        assert call.sampling.temperature == 0.2


async def test_unlocked_fields_stay_the_clients(env: Fixture) -> None:
    name = await env.tokens.create({"fieldMask": "temperature"}, "k")
    transport, llm, task = await session(await env.tokens.admit(name), Reply(["Arr"]))
    transport.feed(setup(system="You are a pirate."))
    transport.feed(user_turn("Hello"))
    await transport.until_sent(4)
    await ended(transport, task)
    assert llm.calls[0].messages[0] == ChatMessage("system", "You are a pirate.")
    assert llm.calls[0].sampling.temperature is None  # locked to unset


async def test_a_token_is_bound_to_the_key_that_made_it(env: Fixture) -> None:
    """Removing a key from the server's keys revokes the tokens it made."""
    kept, removed = KeyChecker(["kept-key"]), KeyChecker(["other-key"])
    made = await env.tokens.create({}, "kept-key")
    await Tokens(env.store, env.clock, creator_valid=kept.made_by_a_key).admit(made)
    with pytest.raises(PermissionDenied) as refused:
        await Tokens(env.store, env.clock, creator_valid=removed.made_by_a_key).admit(made)
    assert refused.value.code == 1008
    assert KeyChecker([]).made_by_a_key("anything")  # without keys, any key made tokens
