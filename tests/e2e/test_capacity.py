"""A node's capacity, through the SDKs: sessions beyond it refused at the door with the
hosted close, `/healthz` and `/metrics` following, and a warm start.

Speed under load is measured in benchmarks/capacity.py; here only what must hold.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from google.genai import errors, types

from openlive.backends.silero import SileroVAD
from openlive.protocol.errors import CAPACITY_REASON

from ..conftest import SPEECH, Server, start_server, stop_server
from .live import MODEL, ask, client, run_js

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small(data_dir: Path) -> Iterator[Server]:
    """A node that holds two sessions."""
    running = start_server(data_dir, "--max-sessions", "2")
    yield running
    stop_server(running)


def health(server: Server) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"{server.http}/healthz", timeout=5)
    return response.status_code, response.json()


async def until(condition: Callable[[], bool]) -> None:
    """Poll `condition` (an HTTP endpoint: there is no event to wait on) for up to 10 s."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_a_session_beyond_capacity_is_refused_and_healthz_follows(
    small: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in small.env.items():
        monkeypatch.setenv(name, value)
    config = {"response_modalities": ["TEXT"], "max_output_tokens": 8}
    assert health(small) == (200, {"status": "ok", "sessions": 0, "capacity": 2})
    refused_before = small.metric("openlive_sessions_refused")
    connect = client(small).aio.live.connect
    async with connect(model=MODEL, config=config) as first:
        async with connect(model=MODEL, config=config) as second:
            assert health(small) == (503, {"status": "full", "sessions": 2, "capacity": 2})
            metrics = small.metrics()
            assert metrics["openlive_session_capacity"] == 2
            assert metrics["openlive_session_slots_held"] == 2
            with pytest.raises(errors.APIError) as info:
                async with connect(model=MODEL, config=config):
                    pass
            assert (info.value.code, info.value.details) == (1011, CAPACITY_REASON)
            # The JavaScript SDK is told the same.
            out = await run_js(small, "connect_error.mjs")
            assert f"onclose: 1011 {CAPACITY_REASON}" in out, out
            # The sessions admitted go on as before.
            assert (await ask(first, "Say hello.")).text
            assert (await ask(second, "Say hi.")).text
        await until(lambda: health(small)[0] == 200)
        assert health(small)[1]["sessions"] == 1
        # A slot is free again: a new session is admitted.
        async with connect(model=MODEL, config=config) as third:
            assert (await ask(third, "Say yes.")).text
    await until(lambda: health(small)[1]["sessions"] == 0)
    assert small.metric("openlive_sessions_refused") == refused_before + 2


async def spoken_turns(server: Server, turns: int) -> list[float]:
    """Voice to voice of `turns` spoken turns of one session: a human recording streamed
    at real time, then silence until the answer's first audio."""
    with wave.open(str(SPEECH / "clone-test.wav")) as w:
        speech = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    vad = SileroVAD().stream()
    frames = (speech[: len(speech) // 512 * 512].astype(np.float32) / 32768).reshape(-1, 512)
    voiced_end = (int(np.flatnonzero([vad.probability(f) >= 0.5 for f in frames])[-1]) + 1) * 512
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(language_code="en-US"),
        # a fixed silence ends each turn: what the learned end of turn waits varies
        # from one sentence to the next, and this measures the models' first use
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(silence_duration_ms=500)
        ),
        temperature=0,
        max_output_tokens=16,
    )
    chunk = 320  # 20 ms
    results: list[float] = []
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        for _ in range(turns):
            answered = asyncio.Event()
            sent_last = 0.0

            async def speak(answered: asyncio.Event) -> None:
                nonlocal sent_last
                start = time.monotonic()
                silence = np.zeros(chunk, dtype=np.int16)
                for i in range(0, 20 * 16000, chunk):  # at most 20 s, then give up
                    piece = speech[i : i + chunk] if i < len(speech) else silence
                    await asyncio.sleep(max(0.0, start + i / 16000 - time.monotonic()))
                    await session.send_realtime_input(
                        audio=types.Blob(data=piece.tobytes(), mime_type="audio/pcm;rate=16000")
                    )
                    if i + chunk >= voiced_end and not sent_last:
                        sent_last = time.monotonic()
                    if answered.is_set():
                        return

            speaker = asyncio.create_task(speak(answered))
            first_audio = None
            async for message in session.receive():
                if first_audio is None and message.data:
                    first_audio = time.monotonic()
                    answered.set()
                content = message.server_content
                if content and content.turn_complete:
                    break
            await speaker
            assert first_audio is not None and sent_last, "the turn was not answered"
            results.append(first_audio - sent_last)
            await asyncio.sleep(1.0)
    return results


async def test_a_warm_servers_first_spoken_turn_is_as_fast_as_its_second(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = start_server(data_dir)
    try:
        for name, value in fresh.env.items():
            monkeypatch.setenv(name, value)
        first, second, third = await spoken_turns(fresh, 3)
    finally:
        stop_server(fresh)
    # The benchmark holds it to 10 % (benchmarks/capacity.py --starts). On a shared
    # machine one turn can be 0.4 to 0.6 s slow for reasons of its own (seen, in full
    # runs with warm-up on: 1.49 s against 1.04 s; 1.19 s against 0.60 s), so the test
    # only catches what a model loaded or compiled on first use would cost: a second
    # or more.
    later = min(second, third)
    assert first < later + 1.0, (first, second, third)
