"""Hostile clients beside an ordinary session: how much slower its answers get.

One `openlive serve` on the embedded models, with its default limits. A bystander
session asks short text questions, turn after turn, while one kind of hostile client
after another works on the node; between two hostile kinds, a quiet round measures the
bystander alone, so that every ratio compares rounds taken side by side:

* `corpus`: the malformed messages of the tests' corpus (tests/e2e/test_bad_input.py),
  each on a new connection, over and over;
* `media`: 16 MB audio messages back to back on one connection;
* `small values`: messages of 45,000 small values (one part each) back to back;
* `too many values`: 15 MB function results of 800,000 values, refused, reconnecting;
* `functions`: setups of 512 function declarations with their schemas, reconnecting;
* `flood`: a connection sending messages as fast as it can, closed, reconnecting;
* `idle`: 300 connections opened and left silent;
* `no reader`: a session that streams audio and asks for answers but never reads;
* `busy client` (a control): a process that only keeps one core busy and never
  connects: what a hostile client's own process costs the bystander on these two
  cores, apart from anything the server does.

For each: the bystander's time from its question to `turnComplete`, median and p95,
and the ratio of the median to the quiet rounds' median. Results go to
`benchmarks/results/hostile.json`. Each hostile client runs in a process of its own, so
that its own work (compressing 16 MB messages, sending as fast as it can) does not
slow the bystander's client; it still shares the machine's two cores with the server.

Usage: .venv/bin/python benchmarks/hostile.py [--turns 8] [--only flood "busy client"]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.cluster import summary  # noqa: E402
from tests.conftest import Server, start_server, stop_server  # noqa: E402
from tests.e2e.test_bad_input import CASES  # noqa: E402

MODEL = "models/gemini-live-2.5-flash-preview"
OUT = ROOT / "benchmarks" / "results" / "hostile.json"
TEXT = {"responseModalities": ["TEXT"], "maxOutputTokens": 16, "temperature": 0}
SETUP = json.dumps({"setup": {"model": MODEL, "generationConfig": TEXT}})
QUESTION = json.dumps(
    {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "Name one colour."}]}],
            "turnComplete": True,
        }
    }
)

Attack = Callable[[Server], Awaitable[None]]


async def opened(server: Server, key: str = "hostile") -> ClientConnection:
    ws = await connect(server.ws_url(key=key), max_size=None, open_timeout=30)
    await ws.send(SETUP)
    await asyncio.wait_for(ws.recv(), 30)  # setupComplete, or the close
    return ws


async def send_until_closed(server: Server, frame: str) -> None:
    """Send `frame` over and over on one connection, reconnecting when it is closed."""
    while True:
        with contextlib.suppress(ConnectionClosed, InvalidStatus, TimeoutError):
            async with await opened(server) as ws:
                while True:
                    await ws.send(frame)
                    await asyncio.sleep(0)
        await asyncio.sleep(0.05)


async def corpus(server: Server) -> None:
    while True:
        for _, how, frame, _, _ in CASES:
            with contextlib.suppress(ConnectionClosed, InvalidStatus, TimeoutError, OSError):
                await asyncio.wait_for(how(server, frame), 30)


def _audio(size: int) -> str:
    data = base64.b64encode(bytes(size)).decode()
    return json.dumps({"realtimeInput": {"audio": {"data": data, "mimeType": "audio/pcm"}}})


async def media(server: Server) -> None:
    await send_until_closed(server, _audio(12 * 1024 * 1024 - 1024))


async def small_values(server: Server) -> None:
    turn = {"role": "user", "parts": [{"text": "a"}] * 22_000}  # 44,000 values and more
    await send_until_closed(server, json.dumps({"clientContent": {"turns": [turn]}}))


async def too_many_values(server: Server) -> None:
    response = {f"k{i}": i for i in range(800_000)}
    results = {"functionResponses": [{"id": "x", "name": "f", "response": response}]}
    await send_until_closed(server, json.dumps({"toolResponse": results}))


def _functions() -> str:
    schema = {
        "type": "OBJECT",
        "properties": {f"p{j}": {"type": "STRING", "description": "x" * 80} for j in range(10)},
    }
    declarations = [
        {"name": f"f{i}", "description": "d" * 200, "parameters": schema} for i in range(512)
    ]
    body = {
        "model": MODEL,
        "generationConfig": TEXT,
        "tools": [{"functionDeclarations": declarations}],
    }
    return json.dumps({"setup": body})


async def functions(server: Server) -> None:
    frame = _functions()
    while True:
        with contextlib.suppress(ConnectionClosed, InvalidStatus, TimeoutError, OSError):
            async with connect(server.ws_url(key="hostile"), max_size=None) as ws:
                await ws.send(frame)
                await asyncio.wait_for(ws.recv(), 30)
        await asyncio.sleep(0)


async def flood(server: Server) -> None:
    await send_until_closed(server, _audio(640))


async def idle(server: Server) -> None:
    held: list[ClientConnection] = []
    try:
        for _ in range(300):
            with contextlib.suppress(ConnectionClosed, InvalidStatus, TimeoutError, OSError):
                held.append(await connect(server.ws_url(key="hostile"), open_timeout=10))
        await asyncio.Event().wait()
    finally:
        for ws in held:
            with contextlib.suppress(Exception):
                await ws.close()


async def no_reader(server: Server) -> None:
    ws = await opened(server)
    try:
        chunk = _audio(640)
        while True:  # questions and audio at real time; nothing is ever read
            await ws.send(QUESTION)
            for _ in range(50):
                await ws.send(chunk)
                await asyncio.sleep(0.02)
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


async def busy_client(server: Server) -> None:
    while True:  # one core, and nothing sent
        sum(range(100_000))


ATTACKS: dict[str, Attack] = {
    "corpus": corpus,
    "media": media,
    "small values": small_values,
    "too many values": too_many_values,
    "functions": functions,
    "flood": flood,
    "idle": idle,
    "no reader": no_reader,
    "busy client": busy_client,
}


async def turns(bystander: ClientConnection, count: int) -> list[float]:
    """The bystander's `count` turns: seconds from each question to its turnComplete."""
    times = []
    for _ in range(count):
        started = time.monotonic()
        await bystander.send(QUESTION)
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(bystander.recv(), 60))
            if message.get("serverContent", {}).get("turnComplete"):
                break
        times.append(time.monotonic() - started)
    return times


@dataclass(frozen=True)
class Target:
    """What a hostile client in another process needs of the server: its address."""

    port: int

    def ws_url(self, version: str = "v1beta", key: str | None = "test-key") -> str:
        path = f"/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
        return f"ws://127.0.0.1:{self.port}{path}" + (f"?key={key}" if key else "")


def _attack(name: str, port: int) -> None:
    """A hostile client's process: `name`'s attack until it is terminated."""
    asyncio.run(ATTACKS[name](Target(port)))  # type: ignore[arg-type]


async def measure(server: Server, count: int, only: list[str]) -> dict[str, Any]:
    quiet: list[float] = []
    rounds: dict[str, list[float]] = {}
    async with await opened(server, key="bystander") as bystander:
        await turns(bystander, 2)  # warm
        for name in only or ATTACKS:
            quiet += await turns(bystander, count)
            hostile = multiprocessing.get_context("spawn").Process(
                target=_attack, args=(name, server.port), daemon=True
            )
            hostile.start()
            await asyncio.sleep(3.0)  # started and under way
            rounds.setdefault(name, []).extend(await turns(bystander, count))
            hostile.terminate()
            hostile.join()
            await asyncio.sleep(2.0)  # the node settles
            print(name, summary(rounds[name]), file=sys.stderr, flush=True)
        quiet += await turns(bystander, count)
    base = summary(quiet)
    result: dict[str, Any] = {"quiet": base, "attacks": {}}
    for name, times in rounds.items():
        stats = summary(times)
        stats["ratio"] = round(stats["median"] / base["median"], 2)
        result["attacks"][name] = stats
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=8, help="bystander turns a round")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--only", nargs="*", choices=list(ATTACKS), default=[], help="these, in this order"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = start_server(Path(data))
        try:
            result = asyncio.run(measure(server, args.turns, args.only))
        finally:
            stop_server(server)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    quiet = result["quiet"]
    print(f"quiet: median {quiet['median']:.3f} s, p95 {quiet['p95']:.3f} s (n={quiet['n']})")
    for name, stats in result["attacks"].items():
        print(
            f"{name:16s} median {stats['median']:.3f} s, p95 {stats['p95']:.3f} s, "
            f"{stats['ratio']:.2f}x the quiet median"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
