"""Two nodes sharing Redis behind HAProxy: resuming on another node, and losing a node.

Starts a real `redis-server`, two `openlive serve` nodes (`--state-url`, the embedded
model) and HAProxy in front of them (TLS at the balancer, `/healthz` checked every
300 ms, `balance roundrobin`), all on loopback, and drives them with `google.genai`
over TLS, as an application would.

1. **Resume time.** A session on node A builds a history (the fact of the resumption
   tests, and its answer) and gets a handle. Then, alternating, `--repeats` times each:
   connect to A with the handle, connect to B with it (every read of the snapshot is
   from Redis on both), and connect to each without one. Each is timed from
   `connect()` to its return, which is when the SDK has received `setupComplete`.
2. **A node lost.** `--sessions` sessions through the balancer (spread over both
   nodes), each with a history and a handle, wait for their next turn. Node A is
   killed with SIGKILL. Each session whose connection drops reconnects through the
   balancer with its last handle at once, as a client would; then every session asks
   its question. A session *carries on* when its answer's `promptTokenCount` is its
   whole history's and the answer holds the fact. The gap is from the kill to the
   resumed `setupComplete`. Repeated `--rounds` times (A started again in between).

Usage: .venv/bin/python benchmarks/cluster.py [--repeats N] [--sessions N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google import genai

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.text_turns import log_problems, machine, source  # noqa: E402
from tests.conftest import Server, start_server, stop_server  # noqa: E402
from tests.e2e.test_resumption import ANSWER, FACT, QUESTION, Conversation, config  # noqa: E402
from tests.services import HAProxy, start_haproxy, start_redis  # noqa: E402

from openlive.server.tls import ensure_tls_files  # noqa: E402

MODEL = "gemini-live-2.5-flash-preview"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "cluster.json"
RECONNECT_FOR_S = 15.0
"""How long a dropped session keeps trying to reconnect."""


def at(url: str) -> genai.Client:
    return genai.Client(api_key="bench", http_options={"base_url": url, "api_version": "v1beta"})


async def connect_time(url: str, handle: str | None) -> float:
    started = time.perf_counter()
    async with at(url).aio.live.connect(model=MODEL, config=config(handle)):
        return time.perf_counter() - started


async def resume_times(a: Server, b: Server, repeats: int) -> dict[str, list[float]]:
    talk = Conversation()
    async with at(a.https).aio.live.connect(model=MODEL, config=config()) as session:
        await talk.next_handle(session)
        await talk.ask(session, FACT)
    assert talk.handle is not None
    times: dict[str, list[float]] = {k: [] for k in ("same", "other", "new_a", "new_b")}
    for _ in range(repeats):  # alternating, so that load from elsewhere falls on all alike
        times["same"].append(await connect_time(a.https, talk.handle))
        times["other"].append(await connect_time(b.https, talk.handle))
        times["new_a"].append(await connect_time(a.https, None))
        times["new_b"].append(await connect_time(b.https, None))
    return times


@dataclass
class Member:
    """One session of the failover round, from the client's side."""

    talk: Conversation
    dropped: bool = False
    gap: float | None = None
    """Seconds from the kill to the resumed `setupComplete` (dropped sessions)."""
    carried_on: bool = False
    error: str = ""


async def member(
    url: str, ready: asyncio.Queue[None], killed: asyncio.Event, ask: asyncio.Event,
    kill_time: list[float],
) -> Member:  # fmt: skip
    me = Member(Conversation())
    async with at(url).aio.live.connect(model=MODEL, config=config()) as session:
        await me.talk.next_handle(session)
        await me.talk.ask(session, FACT)
        await ready.put(None)
        watch = asyncio.create_task(_until_closed(session, me.talk))
        await asyncio.wait([watch, asyncio.create_task(ask.wait())], return_when="FIRST_COMPLETED")
        if not watch.done():  # still connected when the questions are asked
            watch.cancel()
            await asyncio.wait([watch])
            return await _answer(me, session)
    me.dropped = True
    await killed.wait()
    deadline = time.monotonic() + RECONNECT_FOR_S
    while True:
        try:
            async with at(url).aio.live.connect(model=MODEL, config=config(me.talk.handle)) as s:
                me.gap = time.perf_counter() - kill_time[0]
                await me.talk.next_handle(s)
                await ask.wait()
                return await _answer(me, s)
        except Exception as exc:  # refused (full, or no node yet): try again, as a client would
            me.error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                return me
            await asyncio.sleep(0.1)


async def _until_closed(session: Any, talk: Conversation) -> None:
    try:
        while True:
            async for message in session.receive():
                talk.note(message)
    except Exception:
        return  # the connection dropped


async def _answer(me: Member, session: Any) -> Member:
    expected = me.talk.expected_prompt(QUESTION)
    turn = await me.talk.ask(session, QUESTION)
    tokens = turn.usage.prompt_token_count if turn.usage else None
    me.carried_on = tokens == expected and ANSWER in turn.text
    if not me.carried_on:
        me.error = f"prompt {tokens} (expected {expected}), answer {turn.text!r}"
    return me


async def failover_round(balancer: HAProxy, nodes: list[Server], sessions: int) -> list[Member]:
    ready: asyncio.Queue[None] = asyncio.Queue()
    killed, ask = asyncio.Event(), asyncio.Event()
    kill_time = [0.0]
    tasks = [
        asyncio.create_task(member(balancer.https, ready, killed, ask, kill_time))
        for _ in range(sessions)
    ]
    for _ in range(sessions):
        await ready.get()
    kill_time[0] = time.perf_counter()
    nodes[0].process.kill()
    killed.set()
    await asyncio.to_thread(nodes[0].process.wait)
    await asyncio.sleep(3.0)  # every dropped session has reconnected by now, or is trying
    ask.set()
    return list(await asyncio.gather(*tasks))


def summary(values: list[float]) -> dict[str, float]:
    """Median and p95 (the nearest rank) of `values`, and their count."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "n": len(ordered)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="openlive-cluster-")))
        (folder / "data").mkdir()
        redis = start_redis(folder / "redis")
        stack.callback(redis.stop)
        # room on one node for every session of the round: the survivor takes them all
        node_args = ("--state-url", redis.url, "--max-sessions", str(args.sessions + 2))
        nodes = [start_server(folder / "data", *node_args) for _ in range(2)]
        stack.callback(lambda: [stop_server(n) for n in nodes])
        tls = ensure_tls_files(folder / "data", ("127.0.0.1",))
        balancer = start_haproxy(
            folder / "haproxy", [n.port for n in nodes], tls.cert, tls.key, balance="roundrobin"
        )
        stack.callback(balancer.stop)
        for i in range(2):
            balancer.wait(f"node{i}", "UP")
        os.environ["SSL_CERT_FILE"] = nodes[0].env["SSL_CERT_FILE"]

        times = await resume_times(nodes[0], nodes[1], args.repeats)
        rounds = []
        for _ in range(args.rounds):
            members = await failover_round(balancer, nodes, args.sessions)
            rounds.append(members)
            stop_server(nodes[0])
            nodes[0] = start_server(folder / "data", *node_args, port=nodes[0].port)
            balancer.wait("node0", "UP")
        problems = [line for n in nodes for line in log_problems(n)]

    resume = {k: summary(v) for k, v in times.items()}
    dropped = [m for members in rounds for m in members if m.dropped]
    result = {
        "machine": machine(),
        "source": source(),
        "args": vars(args) | {"out": str(args.out)},
        "resume_s": resume,
        "resume_cost_s": {
            "same_node": statistics.median(times["same"]) - statistics.median(times["new_a"]),
            "other_node": statistics.median(times["other"]) - statistics.median(times["new_b"]),
        },
        "failover": [
            {
                "sessions": len(members),
                "dropped": sum(m.dropped for m in members),
                "carried_on": sum(m.carried_on for m in members),
                "errors": [m.error for m in members if not m.carried_on],
            }
            for members in rounds
        ],
        "gap_s": summary([m.gap for m in dropped if m.gap is not None]) if dropped else None,
        "log_problems": problems[:20],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    shown = ("resume_s", "resume_cost_s", "failover", "gap_s")
    print(json.dumps({k: result[k] for k in shown}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
