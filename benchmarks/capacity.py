"""Capacity: many concurrent voice (and text) sessions on one server, through the SDK.

For each N (by default 1, 2, 4, 6, 8, 10, 12), N voice sessions talk at once to one
`openlive serve` on the embedded models, each as a person would: a phrase of human
speech (1 to 4 s, `tests/fixtures/speech`) streamed at real time in 20 ms messages with
`languageCode` en-US, then silence while the answer plays, then a 1 s pause, then the
next phrase; the sessions start a random fraction of a second apart. Recorded per turn:

* voice to voice: from sending the last voiced sample to the first answer audio;
* unanswered: no answer audio within 15 s of the end of the speech;
* stalls: a gap over 300 ms between two audio messages of one answer (its audio is
  paced at real time, so a gap is audio the listener waits for);
* the server's CPU use over the run (cores busy, from /proc).

Then N concurrent text sessions, each asking three questions in turn (at most 64 tokens
each): time to first text, and the tokens per second of all sessions together.

With `--starts K`: K fresh servers warmed up and K started with `--no-warm-up`, in
alternation, each with one session of three spoken turns: the first turn's voice to
voice against the median of the next two.

With `--baseline-src DIR` (the `src` folder of another checkout, e.g. a `git worktree`
of an older commit) a second server runs that code, and the two are driven N by N in
alternation, so that load from elsewhere falls on both alike.

Usage: .venv/bin/python benchmarks/capacity.py [--sessions 1,2,4] [--turns 4]
       [--baseline-src /tmp/before/src] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from google.genai import types

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.latency import (  # noqa: E402
    MODEL,
    SYSTEM,
    Microphone,
    audio_in,
    client,
    last_voiced,
    quantile,
    receive_all,
    utterances,
)
from tests.conftest import Server, start_server, stop_server  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "capacity.json"
ANSWER_WAIT_S = 15.0
STALL_S = 0.3
PAUSE_S = 1.0
QUESTIONS = (
    "What is the capital of France?",
    "Tell me a short story about a cat.",
    "Name three colours and say why you like them.",
)


def voice_config() -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction=types.Content(parts=[types.Part(text=SYSTEM)]),
        speech_config=types.SpeechConfig(language_code="en-US"),
        temperature=0,
        max_output_tokens=24,
    )


@dataclass
class VoiceTurn:
    session: int
    voice_to_voice_s: float | None
    """None: never answered."""
    stalls: int = 0
    longest_gap_s: float = 0.0


@dataclass
class Speaker:
    """One voice session: a microphone streaming throughout, and its answers."""

    index: int
    session: Any
    mic: Microphone
    messages: asyncio.Queue[tuple[float, types.LiveServerMessage]] = field(
        default_factory=asyncio.Queue
    )

    async def receive(self) -> None:
        await receive_all(self.session, self.messages)

    async def turn(self, samples: np.ndarray) -> VoiceTurn:
        while not self.messages.empty():
            self.messages.get_nowait()
        sent = await self.mic.say(samples, last_voiced(samples))
        first: float | None = None
        previous = 0.0
        result = VoiceTurn(self.index, None)
        deadline = sent + ANSWER_WAIT_S
        while True:
            wait = deadline - time.monotonic() if first is None else 30.0
            try:
                received, message = await asyncio.wait_for(self.messages.get(), max(wait, 0.01))
            except TimeoutError:
                return result  # unanswered (or an answer that never ended)
            if audio_in(message):
                if first is None:
                    first = received
                    result.voice_to_voice_s = first - sent
                else:
                    gap = received - previous
                    result.longest_gap_s = max(result.longest_gap_s, gap)
                    result.stalls += gap > STALL_S
                previous = received
            content = message.server_content
            if content is not None and content.turn_complete and first is not None:
                return result


async def voice_run(server: Server, sessions: int, turns: int, seed: int) -> dict[str, Any]:
    clips = [u for u in utterances() if 1.0 <= len(u) / 16000 <= 4.2]
    rng = random.Random(seed)
    results: list[VoiceTurn] = []
    errors: list[str] = []

    async def converse(speaker: Speaker) -> None:
        await asyncio.sleep(rng.random() * 2.0)  # people do not start in step
        for t in range(turns):
            clip = clips[(speaker.index + t) % len(clips)]
            results.append(await speaker.turn(clip))
            await asyncio.sleep(PAUSE_S)

    cpu_before = cpu_seconds(server)
    metrics_before = server.metrics()
    client_before = time.process_time()
    started = time.monotonic()
    async with AsyncExitStack() as stack, asyncio.TaskGroup() as tasks:
        speakers = []
        for i in range(sessions):
            connect = client(server).aio.live.connect(model=MODEL, config=voice_config())
            session = await stack.enter_async_context(connect)
            speakers.append(Speaker(i, session, Microphone(session)))
        background = [tasks.create_task(s.mic.run()) for s in speakers]
        background += [tasks.create_task(s.receive()) for s in speakers]
        try:
            outcomes = await asyncio.gather(
                *(converse(s) for s in speakers), return_exceptions=True
            )
            errors = [f"{type(e).__name__}: {e}" for e in outcomes if isinstance(e, Exception)]
        finally:
            for task in background:
                task.cancel()
    wall = time.monotonic() - started
    client_cores = (time.process_time() - client_before) / wall
    metrics = server.metrics()

    def delta(name: str) -> float:
        return metrics.get(name, 0.0) - metrics_before.get(name, 0.0)

    counted = delta('openlive_voice_stage_seconds_count{stage="total"}') or 1.0
    stages = {
        stage: round(delta(f'openlive_voice_stage_seconds_sum{{stage="{stage}"}}') / counted, 3)
        for stage in ("end_of_speech", "recognition", "first_token", "first_audio", "total")
    }
    answered = [r.voice_to_voice_s for r in results if r.voice_to_voice_s is not None]
    return {
        "sessions": sessions,
        "turns": len(results),
        "unanswered": sum(r.voice_to_voice_s is None for r in results),
        "voice_to_voice_p50_s": round(statistics.median(answered), 3) if answered else None,
        "voice_to_voice_p95_s": round(quantile(answered, 0.95), 3) if answered else None,
        "stalls": sum(r.stalls for r in results),
        "longest_gap_s": round(max((r.longest_gap_s for r in results), default=0.0), 3),
        "server_cores_busy": round((cpu_seconds(server) - cpu_before) / wall, 2),
        "client_cores_busy": round(client_cores, 2),
        "stage_means_s": stages,
        "model_cores_busy": {
            name.split('"')[1]: round(delta(name) / wall, 2)
            for name in metrics
            if name.startswith("openlive_model_busy_seconds_total{") and delta(name) > 0
        },
        "model_job_ms": {
            name.split('"')[1]: round(1000 * delta(name) / jobs, 1)
            for name in metrics
            if name.startswith("openlive_model_busy_seconds_total{")
            and (jobs := delta(name.replace("busy_seconds", "jobs"))) > 0
        },
        "speculations": delta("openlive_speculative_recognitions_total"),
        "speculations_used": delta("openlive_speculative_recognitions_used_total"),
        "speculative_answers": delta("openlive_speculative_answers_total"),
        "speculative_answers_used": delta("openlive_speculative_answers_used_total"),
        "errors": errors,
        "each": [asdict(r) for r in results],
    }


async def text_run(server: Server, sessions: int) -> dict[str, Any]:
    firsts: list[float] = []
    tokens = 0
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT], temperature=0, max_output_tokens=64
    )

    async def chat() -> None:
        nonlocal tokens
        async with client(server).aio.live.connect(model=MODEL, config=config) as session:
            for question in QUESTIONS:
                asked = time.monotonic()
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text=question)])
                )
                first: float | None = None
                async for message in session.receive():
                    if message.text and first is None:
                        first = time.monotonic()
                        firsts.append(first - asked)
                    usage = message.usage_metadata
                    if usage is not None and usage.response_token_count:
                        tokens += usage.response_token_count

    started = time.monotonic()
    await asyncio.gather(*(chat() for _ in range(sessions)))
    wall = time.monotonic() - started
    return {
        "sessions": sessions,
        "first_text_p50_s": round(statistics.median(firsts), 3),
        "first_text_p95_s": round(quantile(firsts, 0.95), 3),
        "tokens_per_s": round(tokens / wall, 1),
    }


async def warm_start_run(data: Path, starts: int) -> dict[str, Any]:
    """For each of `starts` fresh servers, warmed up and not (alternately): the voice to
    voice of a session's first spoken turn, and of its next two."""
    clip = [u for u in utterances() if 1.0 <= len(u) / 16000 <= 4.2][0]
    runs: dict[str, list[dict[str, float]]] = {"warm": [], "cold": []}
    for i in range(starts):
        for kind in ("warm", "cold") if i % 2 == 0 else ("cold", "warm"):
            args = ("--max-sessions", "0") + (("--no-warm-up",) if kind == "cold" else ())
            server = start_server(data, *args)
            try:
                async with client(server).aio.live.connect(
                    model=MODEL, config=voice_config()
                ) as session:
                    speaker = Speaker(0, session, Microphone(session))
                    async with asyncio.TaskGroup() as tasks:
                        background = [
                            tasks.create_task(speaker.mic.run()),
                            tasks.create_task(speaker.receive()),
                        ]
                        turns = []
                        for _ in range(3):
                            turns.append((await speaker.turn(clip)).voice_to_voice_s)
                            await asyncio.sleep(PAUSE_S)
                        for task in background:
                            task.cancel()
            finally:
                stop_server(server)
            first, *later = turns
            if first is None or None in later:
                continue
            runs[kind].append({"first": first, "later": statistics.median(later)})  # type: ignore[arg-type]
            print(f"{kind} start {i + 1}: first {first:.3f} later {later}", file=sys.stderr)
    summary = {}
    for kind, rows in runs.items():
        if rows:
            ratios = [r["first"] / r["later"] for r in rows]
            summary[kind] = {
                "starts": len(rows),
                "first_p50_s": round(statistics.median(r["first"] for r in rows), 3),
                "later_p50_s": round(statistics.median(r["later"] for r in rows), 3),
                "first_over_later_p50": round(statistics.median(ratios), 3),
            }
    return summary


def cpu_seconds(server: Server) -> float:
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_table(title: str, rows: list[dict[str, Any]], keys: list[str]) -> None:
    print(f"\n{title}", file=sys.stderr)
    print(" | ".join(keys), file=sys.stderr)
    for row in rows:
        print(" | ".join(str(row.get(k)) for k in keys), file=sys.stderr)


async def run(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    servers: dict[str, Server] = {}
    warm: dict[str, Any] = {}
    try:
        servers["current"] = start_server(data, "--max-sessions", "0")
        os.environ.update(servers["current"].env)  # the certificate the SDK must trust
        os.environ.pop("GOOGLE_API_KEY", None)  # as `openlive env` unsets it
        if args.baseline_src:
            # Older code may predate admission control, and with it the flag.
            uncapped = (Path(args.baseline_src) / "openlive/server/admission.py").is_file()
            servers["baseline"] = start_server(
                data, *(("--max-sessions", "0") if uncapped else ()), src=args.baseline_src
            )
        voice: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        text: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for n in args.sessions:
            for name, server in servers.items():
                result = await voice_run(server, n, args.turns, seed=n)
                voice[name].append(result)
                print(
                    f"{name} voice x{n}: p50 {result['voice_to_voice_p50_s']} p95 "
                    f"{result['voice_to_voice_p95_s']} unanswered {result['unanswered']}/"
                    f"{result['turns']} stalls {result['stalls']} cores "
                    f"{result['server_cores_busy']} (client {result['client_cores_busy']}) "
                    f"stages {result['stage_means_s']} speculations "
                    f"{result['speculations_used']}/{result['speculations']} "
                    f"answers {result['speculative_answers_used']}/"
                    f"{result['speculative_answers']} "
                    f"models {result['model_cores_busy']} ms {result['model_job_ms']} "
                    f"{result['errors'] or ''}",
                    file=sys.stderr,
                    flush=True,
                )
        for n in args.text_sessions:
            for name, server in servers.items():
                result = await text_run(server, n)
                text[name].append(result)
                print(f"{name} text x{n}: {result}", file=sys.stderr, flush=True)
        if args.starts:
            for server in servers.values():
                stop_server(server)
            warm = await warm_start_run(data, args.starts)
            print(f"warm start: {warm}", file=sys.stderr)
    finally:
        for server in servers.values():
            stop_server(server)
    keys = [
        "sessions",
        "voice_to_voice_p50_s",
        "voice_to_voice_p95_s",
        "unanswered",
        "turns",
        "stalls",
        "longest_gap_s",
        "server_cores_busy",
    ]
    for name in servers:
        print_table(f"voice, {name}", voice[name], keys)
        print_table(
            f"text, {name}",
            text[name],
            ["sessions", "first_text_p50_s", "first_text_p95_s", "tokens_per_s"],
        )
    return {"voice": voice, "text": text, "warm_start": warm}


def counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=counts, default=[1, 2, 4, 6, 8, 10, 12])
    parser.add_argument("--text-sessions", type=counts, default=[1, 4, 10])
    parser.add_argument("--turns", type=int, default=4, help="spoken turns per session")
    parser.add_argument(
        "--starts",
        type=int,
        default=0,
        help="also start this many fresh servers of each kind (warmed up, --no-warm-up) and "
        "compare a session's first spoken turn with its later ones",
    )
    parser.add_argument("--baseline-src", help="the src folder of a checkout to compare with")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(args, Path(tmp)))
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "turns_per_session": args.turns,
        **results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
