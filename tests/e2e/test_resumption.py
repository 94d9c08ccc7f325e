"""Session resumption and goAway through the official SDKs, against real server processes:
a clean reconnect, the connection limit's goAway, kill -9 and a restart, and a graceful
stop (SIGTERM). Each resumed turn's `promptTokenCount` must count the whole history,
exactly as the embedded model's template renders it."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.genai import errors, types

from ..conftest import Server, start_server, stop_server
from .live import MODEL, client, prompt_tokens, run_js

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

SYSTEM = "You are a helpful assistant."
FACT = "The password is banana."
QUESTION = "What is the password?"
ANSWER = "banana"
"""A fact the embedded SmolLM2-135M repeats reliably when asked (at temperature 0)."""


def config(handle: str | None = None) -> dict[str, Any]:
    return {
        "response_modalities": ["TEXT"],
        "system_instruction": SYSTEM,
        "temperature": 0,
        "max_output_tokens": 24,
        "session_resumption": types.SessionResumptionConfig(handle=handle),
    }


@dataclass
class Turn:
    text: str = ""
    usage: types.UsageMetadata | None = None
    handle: str | None = None
    """The newest resumable handle seen while the turn ran."""
    not_resumable: bool = False
    """A `resumable: false` update came during the turn."""
    go_away: types.LiveServerGoAway | None = None


@dataclass
class Conversation:
    """The client's side of one resumable conversation, across connections."""

    handle: str | None = None
    history: list[tuple[str, str]] = field(default_factory=lambda: [("system", SYSTEM)])
    go_away: types.LiveServerGoAway | None = None

    def note(self, message: types.LiveServerMessage, turn: Turn | None = None) -> None:
        update = message.session_resumption_update
        if update is not None:
            if update.resumable and update.new_handle:
                self.handle = update.new_handle
                if turn is not None:
                    turn.handle = update.new_handle
            elif turn is not None and update.resumable is False:
                turn.not_resumable = True
        if message.go_away is not None:
            self.go_away = message.go_away

    async def ask(self, session: Any, text: str) -> Turn:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": text}]}, turn_complete=True
        )
        turn = Turn()
        async for message in session.receive():
            self.note(message, turn)
            if message.text:
                turn.text += message.text
            if message.usage_metadata is not None:
                turn.usage = message.usage_metadata
        self.history += [("user", text), ("assistant", turn.text)]
        # The new handle follows turnComplete: it is in the next receive().
        await self.next_handle(session, turn)
        return turn

    async def next_handle(self, session: Any, turn: Turn | None = None) -> str:
        before = self.handle
        async for message in session.receive():
            self.note(message, turn)
            if self.handle != before:
                break
        assert self.handle is not None and self.handle != before
        return self.handle

    def expected_prompt(self, question: str) -> int:
        return prompt_tokens([*self.history, ("user", question)])


async def resumed_turn(server: Server, talk: Conversation) -> Turn:
    """Connect with the conversation's handle and ask the question."""
    async with client(server).aio.live.connect(model=MODEL, config=config(talk.handle)) as session:
        await talk.next_handle(session)  # the one sent after setupComplete
        expected = talk.expected_prompt(QUESTION)
        turn = await talk.ask(session, QUESTION)
    assert turn.usage is not None
    assert turn.usage.prompt_token_count == expected, "the history did not all come back"
    return turn


async def first_turn(server: Server, talk: Conversation) -> Turn:
    async with client(server).aio.live.connect(model=MODEL, config=config()) as session:
        await talk.next_handle(session)
        return await talk.ask(session, FACT)


async def test_a_clean_reconnect_continues_the_conversation(server: Server) -> None:
    talk = Conversation()
    first = await first_turn(server, talk)
    assert first.not_resumable and first.handle is not None

    turn = await resumed_turn(server, talk)
    assert ANSWER in turn.text, turn.text
    # Resumed again, from the newest handle: three user turns in the history.
    await resumed_turn(server, talk)


async def test_an_unknown_handle_is_refused_with_1007(server: Server) -> None:
    with pytest.raises(errors.APIError) as caught:
        async with client(server).aio.live.connect(
            model=MODEL, config=config("no-such-handle")
        ) as session:
            async for _ in session.receive():
                pass
    assert caught.value.code == 1007
    assert "handle is invalid or has expired" in str(caught.value)


async def test_a_handle_is_bound_to_the_key_that_made_it(server: Server) -> None:
    talk = Conversation()
    await first_turn(server, talk)  # on the key "test-key"
    assert talk.handle is not None
    with pytest.raises(errors.APIError) as caught:
        async with client(server, key="another-key").aio.live.connect(
            model=MODEL, config=config(talk.handle)
        ) as session:
            async for _ in session.receive():
                pass
    assert caught.value.code == 1007  # as if it did not exist
    assert "handle is invalid or has expired" in str(caught.value)
    turn = await resumed_turn(server, talk)  # the key that made it still can
    assert ANSWER in turn.text, turn.text


# --- the connection limit ---------------------------------------------------------------

LIMIT, WARNING = 12, 6


@pytest.fixture(scope="module")
def short_server(data_dir: Path) -> Iterator[Server]:
    running = start_server(
        data_dir, "--connection-limit", str(LIMIT), "--go-away-before", str(WARNING)
    )
    yield running
    stop_server(running)


async def test_go_away_before_the_connection_limit_then_resume(short_server: Server) -> None:
    talk = Conversation()
    with pytest.raises(errors.APIError) as caught:
        async with client(short_server).aio.live.connect(model=MODEL, config=config()) as session:
            await talk.next_handle(session)
            await talk.ask(session, FACT)
            while True:  # until the server ends the connection
                async for message in session.receive():
                    talk.note(message)
    assert caught.value.code == 1011
    assert "Deadline expired" in str(caught.value)
    assert talk.go_away is not None and talk.go_away.time_left == f"{WARNING}s"

    await resumed_turn(short_server, talk)


# --- the session limit ------------------------------------------------------------------

SESSION_LIMIT = 10


@pytest.fixture(scope="module")
def session_limited_server(data_dir: Path) -> Iterator[Server]:
    running = start_server(
        data_dir,
        "--session-limit",
        str(SESSION_LIMIT),
        "--go-away-before",
        "2",
        "--connection-limit",
        "0",
    )
    yield running
    stop_server(running)


async def test_the_session_limit_counts_across_connections(
    session_limited_server: Server,
) -> None:
    """Without compression, a session has SESSION_LIMIT seconds in all: the time it
    spent on its first connection is missing from the second."""
    talk = Conversation()
    async with client(session_limited_server).aio.live.connect(
        model=MODEL, config=config()
    ) as session:
        await talk.next_handle(session)
        await asyncio.sleep(SESSION_LIMIT / 2)
        await talk.ask(session, FACT)  # its handle holds the time spent so far

    started = time.monotonic()
    with pytest.raises(errors.APIError) as caught:
        async with client(session_limited_server).aio.live.connect(
            model=MODEL, config=config(talk.handle)
        ) as session:
            while True:
                async for message in session.receive():
                    talk.note(message)
    lasted = time.monotonic() - started
    assert caught.value.code == 1011 and "Deadline expired" in str(caught.value)
    assert talk.go_away is not None
    assert lasted < SESSION_LIMIT * 0.75, f"the second connection lasted {lasted:.1f} s"


# --- restarts ---------------------------------------------------------------------------


async def test_kill_9_and_sigterm_then_resume_on_the_restarted_server(data_dir: Path) -> None:
    talk = Conversation()
    server = start_server(data_dir)
    try:
        await first_turn(server, talk)
    finally:
        server.process.kill()  # SIGKILL: no chance to save anything more
        server.process.wait()

    server = start_server(data_dir)
    try:
        assert ANSWER in (await resumed_turn(server, talk)).text

        # A graceful stop: goAway, a final handle, then 1012.
        with pytest.raises(errors.APIError) as caught:
            async with client(server).aio.live.connect(
                model=MODEL, config=config(talk.handle)
            ) as session:
                await talk.next_handle(session)
                talk.go_away = None
                server.process.send_signal(signal.SIGTERM)
                while True:
                    async for message in session.receive():
                        talk.note(message)
        assert caught.value.code == 1012
        # An idle session: the default grace period, and nothing to wait for.
        assert talk.go_away is not None and talk.go_away.time_left == "10s"
        assert await asyncio.to_thread(server.process.wait, 30) == 0
    finally:
        stop_server(server)

    server = start_server(data_dir)
    try:
        await resumed_turn(server, talk)
    finally:
        stop_server(server)


# --- the JavaScript SDK -----------------------------------------------------------------


async def test_javascript_sdk(server: Server) -> None:
    out = await run_js(server, "session_resumption.mjs")
    report = json.loads(out)
    first, second = report["answers"]
    assert report["handles"][0] != report["handles"][1]
    history = [("system", SYSTEM), ("user", FACT), ("assistant", first), ("user", QUESTION)]
    assert report["promptTokenCount"] == prompt_tokens(history)
    assert ANSWER in second, second
