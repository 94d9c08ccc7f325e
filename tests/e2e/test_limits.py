"""Per-connection limits against a real server: connections that never send `setup`
cannot hold the node's session slots."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..conftest import Server, start_server, stop_server
from .live import MODEL, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]  # same CA: one data dir


@pytest.fixture(scope="module")
def small(data_dir: Path) -> Iterator[Server]:
    running = start_server(
        data_dir, "--max-sessions", "2", "--setup-timeout", "0.5", "--no-warm-up"
    )
    yield running
    stop_server(running)


async def test_silent_connections_are_closed_and_give_their_slots_back(small: Server) -> None:
    async with connect(small.ws_url()) as one, connect(small.ws_url()) as two:
        for silent in (one, two):  # the node is full of connections that say nothing
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(silent.recv(), 10)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1011,
                "Deadline expired before operation could complete.",
            )
    # ... and a real client is admitted after them.
    config = {"response_modalities": ["TEXT"], "max_output_tokens": 8}
    async with client(small).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]})
        async for message in session.receive():
            if message.server_content and message.server_content.turn_complete:
                break
