"""Property-based fuzzing of a running server: valid client messages, mutated one part
at a time, sent to `openlive serve` while an SDK session keeps talking beside. A mutated
message comes as a setup, or after a valid setup and up to two valid messages (so that
it finds the session answering, waiting for a tool response, streaming audio...).

Whatever arrives, the server either takes it or closes with a client error (1007 or
1008) and a reason; never 1011, never a dropped connection. The session beside is
answered throughout, within twice its time alone (medians).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..conftest import Server
from ..protocol.test_fuzz import values
from .live import MODEL, ask, client

pytestmark = pytest.mark.e2e

QUIET = 0.25
"""Seconds without a close after which a message counts as taken."""

SETUP: dict[str, Any] = {
    "setup": {
        "model": f"models/{MODEL}",
        "generationConfig": {
            "responseModalities": ["TEXT"],
            "temperature": 0.5,
            "maxOutputTokens": 4,
            "stopSequences": ["."],
        },
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city": {"type": "STRING"}},
                        },
                    }
                ]
            }
        ],
        "realtimeInputConfig": {
            "automaticActivityDetection": {"silenceDurationMs": 300, "prefixPaddingMs": 20}
        },
        "contextWindowCompression": {
            "triggerTokens": 2000,
            "slidingWindow": {"targetTokens": 1000},
        },
        "sessionResumption": {},
        "inputAudioTranscription": {},
    }
}
PCM = base64.b64encode(bytes(640)).decode()
MESSAGES: list[dict[str, Any]] = [
    {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "turnComplete": True,
        }
    },
    {"realtimeInput": {"text": "Hi"}},
    {"realtimeInput": {"audio": {"data": PCM, "mimeType": "audio/pcm;rate=16000"}}},
    {"realtimeInput": {"audioStreamEnd": True}},
    {
        "toolResponse": {
            "functionResponses": [{"id": "call-1", "name": "get_weather", "response": {"t": 1}}]
        }
    },
    {"contextUpdate": {"systemInstruction": {"parts": [{"text": "Be kind."}]}}},
]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


def _mutated(message: Any, path: tuple[Any, ...], how: str, new: Any) -> Any:
    """`message` with the node at `path` replaced, removed, or given an unknown field."""
    if not path:
        return new if how == "replace" else message
    copy = json.loads(json.dumps(message))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = new
    elif how == "remove":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["unknownField"] = new
    else:
        parent[last] = [parent[last], new]
    return copy


@st.composite
def mutations(draw: st.DrawFn, message: dict[str, Any]) -> str:
    """A JSON text: `message` with one node changed, or as text with one edit."""
    if draw(st.integers(0, 9)) == 0:  # an edit of the text itself
        text = json.dumps(message)
        cut = draw(st.integers(0, len(text)))
        insert = draw(st.sampled_from(["NaN", "1e999", "-", "}", "[" * 200, '"\\ud800"', ""]))
        return text[:cut] + insert + text[cut + draw(st.integers(0, 3)) :]
    path = draw(st.sampled_from(list(_paths(message))))
    how = draw(st.sampled_from(["replace", "remove", "add"]))
    return json.dumps(_mutated(message, path, how, draw(values)))


@dataclass
class Bystander:
    """An SDK session asking a question after another, its answer times kept."""

    alone: list[float] = field(default_factory=list)
    beside: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
async def bystander(server: Server, sdk_env: dict[str, str]) -> AsyncIterator[Bystander]:
    record = Bystander()
    async with client(server).aio.live.connect(
        model=MODEL,
        config={"response_modalities": ["TEXT"], "max_output_tokens": 8},
    ) as session:

        async def timed() -> float:
            started = time.monotonic()
            turn = await asyncio.wait_for(ask(session, "Name one colour."), 60)
            assert turn.text, "no answer"
            return time.monotonic() - started

        for _ in range(5):
            record.alone.append(await timed())

        async def talk() -> None:
            while True:
                try:
                    record.beside.append(await timed())
                except (AssertionError, TimeoutError) as exc:
                    record.failures.append(repr(exc))
                await asyncio.sleep(0.1)

        talking = asyncio.create_task(talk())
        yield record
        talking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await talking


async def _outcome(server: Server, frames: list[str]) -> tuple[int, str] | None:
    """Send `frames` in order on one connection; the server's close, or None if it
    took them all (no close within `QUIET` of the last)."""
    async with connect(server.ws_url(), max_size=None) as ws:
        try:
            setup, *rest = frames
            await ws.send(setup)
            if rest:  # a valid setup, then valid messages, then the mutated one
                assert "setupComplete" in json.loads(await asyncio.wait_for(ws.recv(), 30))
            for frame in rest:
                await ws.send(frame)
            deadline = time.monotonic() + QUIET
            while (left := deadline - time.monotonic()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ws.recv(), left)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server dropped the connection without a close"
            return closed.rcvd.code, closed.rcvd.reason
    return None


valid = st.sampled_from(MESSAGES).map(json.dumps)
frames = st.one_of(
    mutations(SETUP).map(lambda setup: [setup]),
    # up to two valid messages first, so that the mutated one finds the session in
    # another state: answering, waiting for a tool response, streaming audio...
    st.tuples(st.lists(valid, max_size=2), st.sampled_from(MESSAGES).flatmap(mutations)).map(
        lambda sent: [json.dumps(SETUP), *sent[0], sent[1]]
    ),
)


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames)
async def test_mutated_messages_are_taken_or_refused_by_name(
    server: Server, bystander: Bystander, frames: list[str]
) -> None:
    closed = await _outcome(server, frames)
    if closed is not None:
        code, reason = closed
        sent = " then ".join(frame[:300] for frame in frames[1:]) or frames[0][:300]
        assert code in (1007, 1008), f"closed with {code} {reason!r} for {sent}"
        assert reason, f"closed with {code} and no reason for {sent}"


async def test_the_session_beside_the_fuzzing_was_answered_in_time(
    server: Server, bystander: Bystander
) -> None:
    assert not bystander.failures, bystander.failures
    assert len(bystander.beside) >= 5, "the bystander was not answered during the fuzzing"
    alone, beside = statistics.median(bystander.alone), statistics.median(bystander.beside)
    assert beside <= 2 * alone, (
        f"answers took {beside:.2f} s beside the fuzzing, {alone:.2f} s alone"
    )
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.http}/healthz")).status_code == 200
