"""Per-connection limits against a real server: connections that never send `setup`
cannot hold the node's session slots, a flood of messages is closed, a key holds at most
its share of the node, and bytes over the rate slow their sender down."""

from __future__ import annotations

import asyncio
import base64
import json
import time
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
        answered = False
        async for message in session.receive():
            if message.server_content and message.server_content.turn_complete:
                answered = True
                break
    assert answered


@pytest.fixture(scope="module")
def guarded(data_dir: Path) -> Iterator[Server]:
    running = start_server(
        data_dir,
        "--max-sessions", "4",
        "--max-sessions-per-key", "1",
        "--max-messages-per-second", "20",
        "--max-input-bytes-per-second", "100000",
        "--max-message-bytes", "300000",
        "--no-warm-up",
    )  # fmt: skip
    yield running
    stop_server(running)


SETUP = {
    "setup": {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["TEXT"]}}
}
CONFIG = {"response_modalities": ["TEXT"], "max_output_tokens": 8}


async def answered(session: object) -> str:
    """Ask `session` (an SDK session) for a short answer; its text."""
    await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]})  # type: ignore[attr-defined]
    text = ""
    async for message in session.receive():  # type: ignore[attr-defined]
        text += message.text or ""
        if message.server_content and message.server_content.turn_complete:
            return text
    raise AssertionError("the session ended without turnComplete")


async def flood(server: Server, messages: int) -> tuple[int, int, str]:
    """Open a session as "flooder" and send up to `messages` 20 ms audio chunks as fast
    as the socket takes them; how many were sent before the close, and the close."""
    silence = base64.b64encode(bytes(640)).decode()  # 20 ms at 16 kHz
    chunk = json.dumps({"realtimeInput": {"audio": {"data": silence, "mimeType": "audio/pcm"}}})
    sent = 0
    async with connect(server.ws_url(key="flooder")) as ws:
        await ws.send(json.dumps(SETUP))  # (which may be one too many already)
        with pytest.raises(ConnectionClosed) as closed:
            assert json.loads(await ws.recv()).keys() == {"setupComplete"}
            for _ in range(messages):
                await ws.send(chunk)
                sent += 1
                await asyncio.sleep(0.001)
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return sent, closed.value.rcvd.code, closed.value.rcvd.reason


async def test_a_flood_of_messages_is_closed_and_harms_no_one(guarded: Server) -> None:
    reason = "RESOURCE_EXHAUSTED: Too many messages: more than 20 a second."
    async with client(guarded, key="bystander").aio.live.connect(
        model=MODEL, config=CONFIG
    ) as bystander:
        sent, code, why = await flood(guarded, 200)  # 40 (two seconds' worth) pass
        assert (code, why) == (1011, reason)
        # Connecting again gives no new allowance: the key's next connection takes up
        # the bucket this one emptied, and is closed within a few messages (or at once).
        again, code, why = await flood(guarded, 40)
        assert (code, why) == (1011, reason)
        assert again < sent
        assert await answered(bystander)


async def test_a_key_holds_at_most_its_share_of_the_node(guarded: Server) -> None:
    async with client(guarded, key="alice").aio.live.connect(model=MODEL, config=CONFIG) as one:
        async with connect(guarded.ws_url(key="alice")) as second:
            await second.send(json.dumps(SETUP))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(second.recv(), 10)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1011,
                "RESOURCE_EXHAUSTED: Maximum concurrent sessions exceeded.",
            )
        async with client(guarded, key="bob").aio.live.connect(model=MODEL, config=CONFIG) as other:
            assert await answered(other)  # another key is admitted beside it
        assert await answered(one)
    # once alice's session ended, alice may open another
    async with client(guarded, key="alice").aio.live.connect(model=MODEL, config=CONFIG) as again:
        assert await answered(again)


async def sent_then_answered(server: Server, key: str, audio: str, count: int) -> float:
    """Send `count` copies of `audio`, then a question: seconds until its answer ends."""
    async with connect(server.ws_url(key=key)) as ws:
        await ws.send(json.dumps(SETUP))
        assert json.loads(await ws.recv()).keys() == {"setupComplete"}
        started = time.monotonic()
        for _ in range(count):
            await ws.send(audio)
        turn = {"role": "user", "parts": [{"text": "Hi"}]}
        await ws.send(json.dumps({"clientContent": {"turns": [turn], "turnComplete": True}}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message.get("serverContent", {}).get("turnComplete"):
                return time.monotonic() - started


def pcm(seconds: float, rate: int) -> str:
    blob = {
        "data": base64.b64encode(bytes(int(seconds * rate) * 2)).decode(),
        "mimeType": f"audio/pcm;rate={rate}",
    }
    return json.dumps({"realtimeInput": {"audio": blob}})


async def test_bytes_over_the_rate_slow_the_sender_down_without_closing_it(
    guarded: Server,
) -> None:
    # three messages of 256 KB (half a second at 192 kHz, charged by size): the bucket
    # holds 300 KB, the other 468 KB take 4.7 s at 100 KB/s, and the question waits
    assert await sent_then_answered(guarded, "uploader", pcm(0.5, 192_000), 3) >= 4.0
    # what is owed stays with the key: its next connection's setup waits for it too
    async with connect(guarded.ws_url(key="uploader")) as ws:
        await ws.send(json.dumps(SETUP))
        assert json.loads(await ws.recv()).keys() == {"setupComplete"}
        for _ in range(2):  # 512 KB: 2 s and more owed at 100 KB/s, whatever was left
            await ws.send(pcm(0.5, 192_000))
        started = time.monotonic()
    while guarded.metrics().get("openlive_sessions", 0.0) > 0:  # noqa: ASYNC110 (a gauge)
        await asyncio.sleep(0.05)
    async with connect(guarded.ws_url(key="uploader")) as ws:
        await ws.send(json.dumps(SETUP))
        assert json.loads(await ws.recv()).keys() == {"setupComplete"}
        assert time.monotonic() - started >= 1.5  # read once the debt was paid


async def test_audio_faster_than_four_times_real_time_is_slowed_to_it(guarded: Server) -> None:
    # two messages of 1.5 s at 16 kHz (64 KB each), charged as 1.5 x 256 KiB each: the
    # 486 KB over the bucket take 4.9 s at 100 KB/s before the question is read
    assert await sent_then_answered(guarded, "streamer", pcm(1.5, 16_000), 2) >= 4.0
