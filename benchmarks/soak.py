"""Soak: many sessions for a long time, with everything that goes wrong in real use.

One `openlive serve` on the embedded models. Text and voice sessions (within the
default capacity) talk for `--minutes`, each doing, turn after turn, one of:

* a plain turn (text, or a phrase of human speech streamed at real time);
* a barge-in: a second turn sent while the first one's answer streams;
* a tool call: a function declared in the setup, called, answered;
* a resumption: the connection closed and a new one resumes with the last handle;
* a disconnect in the middle of an answer (the session ends there; a new one starts).

Every minute, and at the start and end, the server's resident memory, file
descriptors and threads (from /proc) and its event loop's tasks (`/metrics`) are
sampled. Errors are counted apart from the ones provoked (the disconnects).
Results go to `benchmarks/results/soak.json`.

Usage: .venv/bin/python benchmarks/soak.py [--minutes 30] [--text 3] [--voice 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.latency import utterances  # noqa: E402
from tests.conftest import Server, start_server, stop_server  # noqa: E402

MODEL = "models/gemini-live-2.5-flash-preview"
OUT = ROOT / "benchmarks" / "results" / "soak.json"
WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city",
    "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
}
TURN_TIMEOUT = 60.0


@dataclass
class Tally:
    turns: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    answer_s: list[float] = field(default_factory=list)

    def did(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1


def sample(server: Server) -> dict[str, float]:
    proc = Path(f"/proc/{server.process.pid}")
    status = dict(
        line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
    )
    return {
        "t_s": round(time.monotonic(), 1),
        "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "threads": int(status["Threads"]),
        "fds": len(list((proc / "fd").iterdir())),
        "tasks": server.metric("openlive_event_loop_tasks"),
        "sessions": server.metrics().get("openlive_sessions", 0.0),
    }


class Talker:
    """One client: a session after another, each doing random actions."""

    def __init__(self, server: Server, voice: bool, seed: int, tally: Tally) -> None:
        self.server, self.voice, self.tally = server, voice, tally
        self.rng = random.Random(seed)
        self.clips = [u for u in utterances() if 1.0 <= len(u) / 16000 <= 3.0]
        self.handle: str | None = None
        self.action = "setup"
        self.seen: deque[str] = deque(maxlen=8)
        """The kinds of the last server messages, for the error reports."""

    def setup(self, resume: bool) -> dict[str, Any]:
        generation: dict[str, Any] = {
            "responseModalities": ["AUDIO" if self.voice else "TEXT"],
            "maxOutputTokens": 48,
        }
        if self.voice:
            generation["speechConfig"] = {"languageCode": "en-US"}
        body: dict[str, Any] = {
            "model": MODEL,
            "generationConfig": generation,
            "tools": [{"functionDeclarations": [WEATHER]}],
            "sessionResumption": {"handle": self.handle} if resume and self.handle else {},
        }
        return {"setup": body}

    async def run(self, deadline: float) -> None:
        resume = False
        while time.monotonic() < deadline:
            try:
                resume = await self.session(deadline, resume)
            except Exception as exc:  # counted, and the next session starts
                kind = "voice" if self.voice else "text"
                seen = ", ".join(self.seen) or "nothing"
                error = f"{kind} {self.action} (last seen: {seen}): {type(exc).__name__}: {exc}"
                self.tally.errors.append(error[:500])
                print("error:", error[:500], file=sys.stderr, flush=True)
                resume = False
                await asyncio.sleep(1)

    async def session(self, deadline: float, resume: bool) -> bool:
        """One connection; whether the next one should resume this one."""
        async with connect(self.server.ws_url(), max_size=None) as ws:
            self.action = "resumed setup" if resume else "setup"
            await ws.send(json.dumps(self.setup(resume)))
            assert "setupComplete" in await self.next(ws)
            while time.monotonic() < deadline:
                action = self.rng.choices(
                    ["turn", "barge-in", "tool", "resume", "disconnect"], [6, 2, 1, 1, 1]
                )[0]
                self.tally.did(action)
                self.action = action
                if action == "turn":
                    await self.turn(ws)
                elif action == "barge-in":
                    await self.say(ws)
                    await self.until(ws, lambda m: _answer(m))
                    await self.say(ws)  # over the answer
                    # The first answer ends (interrupted or not), then the second.
                    await self.until(ws, _complete)
                    await self.until(ws, _complete)
                    self.tally.turns += 1
                elif action == "tool":
                    await ws.send(json.dumps(_text("What is the weather in Paris?")))
                    await self.until(ws, lambda m: "toolCall" in m)  # answered by `until`
                    await self.until(ws, _complete)
                    self.tally.turns += 1
                elif action == "resume":
                    return self.handle is not None  # close cleanly; the next one resumes
                else:
                    await self.say(ws)
                    await self.until(ws, lambda m: _answer(m))
                    return False  # gone in the middle of the answer
        return False

    async def say(self, ws: ClientConnection) -> None:
        if not self.voice:
            await ws.send(json.dumps(_text(self.rng.choice(QUESTIONS))))
            return
        clip = self.rng.choice(self.clips)  # 16-bit samples
        speech = np.concatenate([clip, np.zeros(16000 * 3 // 5, np.int16)])
        for offset in range(0, len(speech), 320):  # 20 ms at real time
            chunk = speech[offset : offset + 320].astype("<i2").tobytes()
            await ws.send(json.dumps(_audio(chunk)))
            await asyncio.sleep(0.02)

    async def turn(self, ws: ClientConnection) -> None:
        started = time.monotonic()
        await self.say(ws)
        await self.until(ws, _complete)
        self.tally.turns += 1
        self.tally.answer_s.append(time.monotonic() - started)

    async def next(self, ws: ClientConnection) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT))
        self.seen.append(_kind(message))
        update = message.get("sessionResumptionUpdate")
        if update and update.get("resumable") and update.get("newHandle"):
            self.handle = update["newHandle"]
        return message

    async def until(self, ws: ClientConnection, done: Any) -> dict[str, Any]:
        """Read up to the message `done` accepts, answering any function call on the
        way (the model may call the tool after any question, spoken ones included)."""
        while True:
            message = await self.next(ws)
            if "toolCall" in message:
                await _answer_calls(ws, message["toolCall"])
            if done(message):
                return message


QUESTIONS = [
    "What is the capital of France?",
    "Name three colours.",
    "Tell me a short fact about the sea.",
    "How many legs does a spider have?",
]


async def _answer_calls(ws: ClientConnection, call: dict[str, Any]) -> None:
    answers = [
        {"id": fc.get("id"), "name": fc["name"], "response": {"sky": "sun"}}
        for fc in call.get("functionCalls", [])
    ]
    await ws.send(json.dumps({"toolResponse": {"functionResponses": answers}}))


def _text(text: str) -> dict[str, Any]:
    return {"realtimeInput": {"text": text}}


def _audio(pcm: bytes) -> dict[str, Any]:
    data = base64.b64encode(pcm).decode()
    return {"realtimeInput": {"audio": {"data": data, "mimeType": "audio/pcm;rate=16000"}}}


def _answer(message: dict[str, Any]) -> bool:
    parts = message.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    return any(p.get("text") or p.get("inlineData") for p in parts)


def _kind(message: dict[str, Any]) -> str:
    """A server message in a word or two, for the error reports."""
    content = message.get("serverContent")
    if content is None:
        return next(iter(message), "empty")
    flags = [k for k in ("interrupted", "generationComplete", "turnComplete") if content.get(k)]
    if "inputTranscription" in content:
        flags.append(f"heard {content['inputTranscription'].get('text', '')!r}"[:40])
    return "+".join(flags) or ("modelTurn" if "modelTurn" in content else "serverContent")


def _complete(message: dict[str, Any]) -> bool:
    return bool(message.get("serverContent", {}).get("turnComplete"))


async def soak(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    deadline = time.monotonic() + args.minutes * 60
    samples = [sample(server)]
    talkers = [Talker(server, False, i, tally) for i in range(args.text)]
    talkers += [Talker(server, True, 100 + i, tally) for i in range(args.voice)]
    async with asyncio.TaskGroup() as tasks:
        for talker in talkers:
            tasks.create_task(talker.run(deadline))
        while time.monotonic() < deadline:
            await asyncio.sleep(min(60.0, max(0.0, deadline - time.monotonic())))
            samples.append(sample(server))
            print(samples[-1], tally.turns, len(tally.errors), file=sys.stderr, flush=True)
    await asyncio.sleep(5)  # the last sessions' ends
    samples.append(sample(server))
    answers = sorted(tally.answer_s)
    return {
        "minutes": args.minutes,
        "text_sessions": args.text,
        "voice_sessions": args.voice,
        "turns": tally.turns,
        "actions": tally.actions,
        "errors": tally.errors,
        "answer_p50_s": round(statistics.median(answers), 2) if answers else None,
        "answer_p95_s": round(answers[int(0.95 * (len(answers) - 1))], 2) if answers else None,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--text", type=int, default=3, help="text sessions at once")
    parser.add_argument("--voice", type=int, default=2, help="voice sessions at once")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = start_server(Path(data))
        try:
            result = asyncio.run(soak(server, args))
        finally:
            stop_server(server)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    first, last = result["samples"][0], result["samples"][-1]
    print(
        f"{result['turns']} turns, actions {result['actions']}, {len(result['errors'])} errors; "
        f"rss {first['rss_mb']} -> {last['rss_mb']} MB, fds {first['fds']} -> {last['fds']}, "
        f"threads {first['threads']} -> {last['threads']}, tasks {first['tasks']} -> "
        f"{last['tasks']}; answers p50 {result['answer_p50_s']} s p95 {result['answer_p95_s']} s"
    )
    for error in result["errors"][:10]:
        print("  error:", error)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
