"""Voice-to-voice latency and barge-in reaction, through the official Python SDK.

Starts real `openlive serve` processes on the embedded models and talks to them as a
voice application does: human recordings (`tests/fixtures/speech`) streamed at real
time in 20 ms messages, with silence streamed between turns as a microphone would.

* Voice to voice: from sending the last voiced sample of the user's speech to the first
  response audio received, over `--turns` spoken turns in one session per server.
  Four servers are driven turn by turn in alternation, so that load from elsewhere
  falls on all alike: `answers` (the default: the transcript and the answer's first
  clause made during the pause), `recognition` (`--no-speculative-answers`: only the
  transcript) and `plain` (`--no-speculative-recognition`: nothing before the turn
  ends), each with `silenceDurationMs` 500; and `learned`, the default server with no
  `silenceDurationMs`, so that the learned end of turn decides. A turn whose answer
  began before the user had finished (a pause mid-sentence taken for the end) is
  counted as cut in, not timed. Each turn's stages come from the server's `/metrics`
  (`openlive_voice_stage_seconds`), read before and after the turn; the speculative
  work of each server (started, used, thrown away) from its counters.
* First turns: `--first-turns` times, two new sessions on the first server, one
  without `languageCode` (the language is detected) and one with ``en-US``, each
  speaking three turns, turn by turn in alternation: voice to voice of their first
  turns against their later turns. A session's turns are the long clip and two short
  phrases; the long clip comes first in every other round.
* Barge-in: the model tells a long story; a second after its first audio, the user
  speaks over it. Reaction time runs from sending the first voiced sample to
  receiving `interrupted`; audio of the interrupted turn after `interrupted` counts as
  a failure.

"Voiced" is decided on the recording by the server's own VAD model, run offline: a 32
ms frame that Silero VAD scores at 0.5 or more.

With `--baseline-src DIR` (the `src` folder of another checkout, e.g. a `git worktree`
of an earlier commit), each server also runs on that code, as `NAME-before`, in the
same alternation; `paired` then gives each server less its baseline too.

Usage: .venv/bin/python benchmarks/latency.py [--turns N] [--barge-ins N] [--out PATH]
       [--servers answers recognition plain learned] [--first-turns N]
       [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from google import genai
from google.genai import types
from google.genai.live import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import SPEECH, Server, start_server, stop_server  # noqa: E402

from openlive.audio.pcm import pcm16_to_float  # noqa: E402
from openlive.backends.silero import SileroVAD  # noqa: E402

MODEL = "gemini-live-2.5-flash-preview"
RATE = 16_000
CHUNK = RATE // 50  # 20 ms per message
WIN = 512  # one VAD frame
SILENCE_MS = 500  # silenceDurationMs, set by the client
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latency.json"
STAGES = ("end_of_speech", "recognition", "first_token", "first_audio", "total")
SYSTEM = "You are a friendly voice assistant. Answer in one short sentence."
STORY = "Tell me a long story about a brave knight and a dragon, with many details."


class Variant(NamedTuple):
    flags: tuple[str, ...]
    """The server's `openlive serve` flags."""
    silence_ms: int | None
    """The client's `silenceDurationMs` (None: unset, so the learned end of turn decides)."""


SERVERS = {
    "answers": Variant((), SILENCE_MS),
    "recognition": Variant(("--no-speculative-answers",), SILENCE_MS),
    "plain": Variant(("--no-speculative-recognition",), SILENCE_MS),
    "learned": Variant((), None),
}
"""The servers compared, by name."""
BEFORE = "-before"
"""The suffix of a server that runs `--baseline-src`'s code (a variant of the same name)."""
SPECULATION = {
    "recognitions": "openlive_speculative_recognitions",
    "recognitions_used": "openlive_speculative_recognitions_used",
    "answers": "openlive_speculative_answers",
    "answers_used": "openlive_speculative_answers_used",
    "answers_ready": "openlive_speculative_answers_ready",
    "answers_discarded": "openlive_speculative_answers_discarded",
}
"""The counters of speculative work, by what they count."""


def recording(name: str) -> np.ndarray:
    with wave.open(str(SPEECH / name)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def voiced(samples: np.ndarray) -> np.ndarray:
    """Which 32 ms frames are voiced, by Silero VAD (probability at least 0.5)."""
    stream = SileroVAD().stream()
    audio = pcm16_to_float(samples.tobytes())
    frames = audio[: len(audio) // WIN * WIN].reshape(-1, WIN)
    return np.array([stream.probability(f) >= 0.5 for f in frames])


def phrases(samples: np.ndarray, gap_ms: int = 250) -> list[np.ndarray]:
    """The recording cut at pauses longer than `gap_ms`, each phrase with 200 ms of its
    surroundings: no phrase holds a pause that could end a turn."""
    flags = voiced(samples)
    spans: list[list[int]] = []
    for i in np.flatnonzero(flags):
        if spans and (i - spans[-1][1]) * WIN < gap_ms * RATE // 1000:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    pad = RATE // 5
    return [
        samples[max(0, a * WIN - pad) : (b + 1) * WIN + pad]
        for a, b in spans
        if (b - a) * WIN >= RATE // 2
    ]


def utterances() -> list[np.ndarray]:
    return [recording("clone-test.wav"), *phrases(recording("beckett.wav"))]


def paused_sentences() -> list[np.ndarray]:
    """Pairs of phrases of beckett.wav run together, with the 400 ms of room sound around
    them between: one turn with a pause mid-sentence (shorter than `SILENCE_MS`), in
    which an answer to its first half may be started, then thrown away."""
    parts = phrases(recording("beckett.wav"))
    return [np.concatenate([a, b]) for a, b in zip(parts[0::2], parts[1::2], strict=False)]


def last_voiced(samples: np.ndarray) -> int:
    """The sample index just after the last voiced frame."""
    return (int(np.flatnonzero(voiced(samples))[-1]) + 1) * WIN


def first_voiced(samples: np.ndarray) -> int:
    return int(np.flatnonzero(voiced(samples))[0]) * WIN


class Microphone:
    """Streams audio at real time, 20 ms per message, and silence when it has nothing
    to say. `say` queues an utterance and returns when its marked sample has been sent."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._queue: list[np.ndarray] = []
        self._marks: list[tuple[int, asyncio.Future[float]]] = []
        self._sent = 0  # samples sent in all

    async def say(self, samples: np.ndarray, mark: int) -> float:
        """Queue `samples`; return when sample `mark` of it has been sent (the time)."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        start = self._sent + sum(len(q) for q in self._queue)
        self._queue.append(samples)
        self._marks.append((start + mark, done))
        return await done

    async def run(self) -> None:
        started = time.monotonic()
        silence = np.zeros(CHUNK, dtype=np.int16)
        pending = np.zeros(0, dtype=np.int16)
        while True:
            if len(pending) < CHUNK and self._queue:
                pending = np.concatenate([pending, *self._queue])
                self._queue.clear()
            chunk, pending = pending[:CHUNK], pending[CHUNK:]
            chunk = np.concatenate([chunk, silence[: CHUNK - len(chunk)]])
            delay = started + self._sent / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._session.send_realtime_input(
                audio=types.Blob(data=chunk.tobytes(), mime_type=f"audio/pcm;rate={RATE}")
            )
            self._sent += CHUNK
            now = time.monotonic()
            for mark in [m for m in self._marks if m[0] <= self._sent]:
                self._marks.remove(mark)
                if not mark[1].done():
                    mark[1].set_result(now)


def client(server: Server) -> genai.Client:
    return genai.Client(
        api_key="k", http_options={"base_url": server.https, "api_version": "v1beta"}
    )


def voice_config(
    max_output_tokens: int = 24, language: str | None = None, silence_ms: int | None = SILENCE_MS
) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        speech_config=types.SpeechConfig(language_code=language) if language else None,
        response_modalities=[types.Modality.AUDIO],
        system_instruction=types.Content(parts=[types.Part(text=SYSTEM)]),
        temperature=0,
        seed=1,
        max_output_tokens=max_output_tokens,
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                silence_duration_ms=silence_ms
            )
        ),
    )


def audio_in(message: types.LiveServerMessage) -> bool:
    content = message.server_content
    if content is None or content.model_turn is None:
        return False
    return any(p.inline_data and p.inline_data.data for p in content.model_turn.parts or ())


def speculation(server: Server) -> dict[str, float]:
    samples = server.metrics()
    return {name: samples.get(f"{metric}_total", 0.0) for name, metric in SPECULATION.items()}


def thrown_away(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """The speculative work of a run, and the share of it thrown away."""
    done = {k: round(after[k] - before[k]) for k in SPECULATION}
    recognized, answered = done["recognitions"], done["answers"]
    done["recognitions_thrown_away"] = (
        round(1 - done["recognitions_used"] / recognized, 3) if recognized else None
    )
    done["answers_thrown_away"] = (
        round(done["answers_discarded"] / answered, 3) if answered else None
    )
    used = done["answers_used"]
    done["answers_ready_when_decided"] = round(done["answers_ready"] / used, 3) if used else None
    return done


def stage_totals(server: Server) -> dict[str, float]:
    samples = server.metrics()
    totals = {s: samples[f'openlive_voice_stage_seconds_sum{{stage="{s}"}}'] for s in STAGES}
    totals["turns"] = samples['openlive_voice_stage_seconds_count{stage="total"}']
    return totals


async def receive_all(
    session: AsyncSession, messages: asyncio.Queue[tuple[float, types.LiveServerMessage]]
) -> None:
    """Put every message of `session` on `messages`, with when it came, until cancelled."""
    while True:
        async for message in session.receive():
            await messages.put((time.monotonic(), message))


@dataclass
class Turn:
    server: str
    utterance: int
    voice_to_voice_s: float
    stages: dict[str, float]
    cut_in: bool = False
    """An answer began before the user had finished (a pause mid-sentence ended the
    turn): the turn's latency is not counted."""


@dataclass
class Conversation:
    """One session on one server, its microphone running throughout."""

    name: str
    server: Server
    session: AsyncSession
    mic: Microphone
    messages: asyncio.Queue[tuple[float, types.LiveServerMessage]] = field(
        default_factory=asyncio.Queue
    )

    async def receive(self) -> None:
        await receive_all(self.session, self.messages)

    async def turn(self, index: int, samples: np.ndarray) -> Turn:
        while not self.messages.empty():
            self.messages.get_nowait()
        before = await asyncio.to_thread(stage_totals, self.server)
        sent = await self.mic.say(samples, last_voiced(samples))
        first_audio: float | None = None
        cut_in = False
        while True:
            received, message = await asyncio.wait_for(self.messages.get(), 60)
            if audio_in(message):
                if received <= sent:
                    cut_in = True  # an answer to part of the sentence
                elif first_audio is None:
                    first_audio = received
            content = message.server_content
            if content is not None and content.turn_complete and first_audio is not None:
                break
        await asyncio.sleep(0.3)  # the server records the turn as it ends
        after = await asyncio.to_thread(stage_totals, self.server)
        if cut_in:
            return Turn(self.name, index, first_audio - sent, {}, cut_in=True)
        assert after["turns"] == before["turns"] + 1, "one spoken turn was answered"
        stages = {s: after[s] - before[s] for s in STAGES}
        return Turn(self.name, index, first_audio - sent, stages)


async def conversations(servers: dict[str, Server], turns: int) -> list[Turn]:
    clips = [*utterances(), *paused_sentences()]
    results: list[Turn] = []
    async with AsyncExitStack() as stack, asyncio.TaskGroup() as tasks:
        convs: list[Conversation] = []
        for name, server in servers.items():
            config = voice_config(silence_ms=variant(name).silence_ms)
            connect = client(server).aio.live.connect(model=MODEL, config=config)
            session = await stack.enter_async_context(connect)
            convs.append(Conversation(name, server, session, Microphone(session)))
        background = [tasks.create_task(c.mic.run()) for c in convs]
        background += [tasks.create_task(c.receive()) for c in convs]
        try:
            for t in range(turns):
                for k in range(len(convs)):
                    conv = convs[(t + k) % len(convs)]
                    turn = await conv.turn(t % len(clips), clips[t % len(clips)])
                    print(
                        f"  turn {t + 1}/{turns} {conv.name}: {turn.voice_to_voice_s:.3f} s"
                        f"{' (cut in)' if turn.cut_in else ''}"
                        f" ({', '.join(f'{k} {v:.3f}' for k, v in turn.stages.items())})",
                        file=sys.stderr,
                        flush=True,
                    )
                    results.append(turn)
        finally:
            for task in background:
                task.cancel()
    return results


LATER_TURNS = 2
"""Turns after the first in each session of `first_turns` (one long, the rest short)."""


async def first_turns(server: Server, rounds: int) -> list[tuple[str, int, Turn]]:
    """(session, turn number, the turn) of `rounds` pairs of new sessions on `server`,
    one without `languageCode`, one with ``en-US``, turn by turn in alternation."""
    clips = utterances()
    results: list[tuple[str, int, Turn]] = []
    for r in range(rounds):
        async with AsyncExitStack() as stack, asyncio.TaskGroup() as tasks:
            convs: list[Conversation] = []
            for name, language in (("unset", None), ("en-US", "en-US")):
                config = voice_config(language=language)
                connect = client(server).aio.live.connect(model=MODEL, config=config)
                session = await stack.enter_async_context(connect)
                convs.append(Conversation(name, server, session, Microphone(session)))
            background = [tasks.create_task(c.mic.run()) for c in convs]
            background += [tasks.create_task(c.receive()) for c in convs]
            # the long clip and a short phrase, first in every other round
            short = [1 + (r + i) % (len(clips) - 1) for i in range(LATER_TURNS)]
            order = [0, *short] if r % 2 == 0 else [short[0], 0, *short[1:]]
            try:
                for t, clip in enumerate(order):
                    for k in range(len(convs)):
                        conv = convs[(r + k) % len(convs)]
                        turn = await conv.turn(clip, clips[clip])
                        print(
                            f"  round {r + 1}/{rounds} {conv.name} turn {t + 1}:"
                            f" {turn.voice_to_voice_s:.3f} s (recognition"
                            f" {turn.stages['recognition']:.3f})",
                            file=sys.stderr,
                            flush=True,
                        )
                        results.append((conv.name, t, turn))
            finally:
                for task in background:
                    task.cancel()
    return results


def first_turn_summary(results: list[tuple[str, int, Turn]]) -> dict[str, Any]:
    """Voice to voice and recognition, by session and first or later turn."""
    out: dict[str, Any] = {}
    kinds: dict[str, Callable[[int, Turn], bool]] = {
        "first": lambda t, _: t == 0,
        "later": lambda t, _: t > 0,
        "first, long clip": lambda t, turn: t == 0 and turn.utterance == 0,
        "first, short phrase": lambda t, turn: t == 0 and turn.utterance > 0,
    }
    for name in ("unset", "en-US"):
        for which, keep in kinds.items():
            mine = [turn for n, t, turn in results if n == name and keep(t, turn)]
            if mine:
                out[f"{name} {which}"] = {
                    "client_s": summary([t.voice_to_voice_s for t in mine]),
                    "recognition_s": summary([t.stages["recognition"] for t in mine]),
                }
    return out


@dataclass
class BargeIn:
    reaction_s: float | None
    audio_after_interrupted: int


async def barge_in(server: Server) -> BargeIn:
    speech = recording("clone-test.wav")
    onset = first_voiced(speech)
    async with client(server).aio.live.connect(
        model=MODEL, config=voice_config(max_output_tokens=200)
    ) as session:
        mic = Microphone(session)
        result = BargeIn(None, 0)
        async with asyncio.TaskGroup() as tasks:
            mic_task = tasks.create_task(mic.run())
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=STORY)]),
                turn_complete=True,
            )
            spoke: float | None = None
            interrupted_at: float | None = None
            speaking_since: float | None = None
            say: asyncio.Task[float] | None = None
            async for message in session.receive():
                now = time.monotonic()
                if audio_in(message):
                    if interrupted_at is not None:
                        result.audio_after_interrupted += 1
                    elif speaking_since is None:
                        speaking_since = now
                if speaking_since is not None and say is None and now - speaking_since > 1.0:
                    say = tasks.create_task(mic.say(speech, onset))
                content = message.server_content
                if content is not None and content.interrupted and say is not None:
                    interrupted_at = now
                    spoke = say.result() if say.done() else await say
                    result.reaction_s = interrupted_at - spoke
                if content is not None and content.turn_complete and interrupted_at is not None:
                    break
                if interrupted_at is not None and now - interrupted_at > 1.0:
                    break
            mic_task.cancel()
            if say is not None and not say.done():
                say.cancel()
    return result


def quantile(values: Sequence[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def variant(name: str) -> Variant:
    return SERVERS[name.removesuffix(BEFORE)]


def paired(turns: Sequence[Turn], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each server's voice to voice less the first server's, and each server's less its
    baseline's (`BEFORE`), round by round (the same utterance, moments apart, so that
    load from elsewhere falls on both alike): the median and p95 of the differences."""
    comparisons = [(name, names[0]) for name in names[1:] if not name.endswith(BEFORE)]
    comparisons += [(name, name + BEFORE) for name in names if name + BEFORE in names]
    out = {}
    for name, other in comparisons:
        mine = [t for t in turns if t.server == name]
        base = [t for t in turns if t.server == other]
        pairs = zip(mine, base, strict=False)
        diffs = [
            m.voice_to_voice_s - b.voice_to_voice_s for m, b in pairs if not (m.cut_in or b.cut_in)
        ]
        if diffs:
            out[f"{name} - {other}"] = summary(diffs)
    return out


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "p95": round(quantile(values, 0.95), 3),
        "n": len(values),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--barge-ins", type=int, default=10)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--first-turns", type=int, default=6, metavar="N")
    parser.add_argument(
        "--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS), metavar="NAME"
    )
    parser.add_argument(
        "--baseline-src",
        metavar="DIR",
        help="also run each server on the code in DIR (the src folder of another checkout)",
    )
    args = parser.parse_args()
    names = list(args.servers)
    if args.baseline_src:
        names += [name + BEFORE for name in args.servers]
    with tempfile.TemporaryDirectory() as tmp:
        # One data folder: the servers use the same certificate, which the client trusts.
        servers = {
            name: start_server(
                Path(tmp),
                *variant(name).flags,
                src=args.baseline_src if name.endswith(BEFORE) else None,
            )
            for name in names
        }
        first = next(iter(servers.values()))
        try:
            os.environ.update(first.env)
            os.environ.pop("GOOGLE_API_KEY", None)  # as `openlive env` unsets it
            print("voice to voice", file=sys.stderr)
            before = {name: speculation(server) for name, server in servers.items()}
            turns = asyncio.run(conversations(servers, args.turns))
            print("first turns", file=sys.stderr)
            firsts = asyncio.run(first_turns(first, args.first_turns))
            work = {
                name: thrown_away(before[name], speculation(server))
                for name, server in servers.items()
            }
            print("barge-in", file=sys.stderr)
            barge = []
            for i in range(args.barge_ins):
                barge.append(asyncio.run(barge_in(first)))
                print(f"  {i + 1}/{args.barge_ins}: {barge[-1]}", file=sys.stderr, flush=True)
        finally:
            for server in servers.values():
                stop_server(server)
    reactions = [b.reaction_s for b in barge if b.reaction_s is not None]
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "silence_duration_ms": SILENCE_MS,
        "voice_to_voice": {},
        "paired_s": paired(turns, list(servers)),
        "barge_in": {
            "reaction_s": summary(reactions) if reactions else None,
            "missed": sum(b.reaction_s is None for b in barge),
            "audio_after_interrupted": sum(b.audio_after_interrupted for b in barge),
        },
        "first_turn": first_turn_summary(firsts),
        "turns": [asdict(t) for t in turns],
        "first_turns": [
            {"session": name, "turn": number, **asdict(turn)} for name, number, turn in firsts
        ],
    }
    for name in servers:
        mine = [t for t in turns if t.server == name and not t.cut_in]
        if not mine:
            continue
        result["voice_to_voice"][name] = {
            "client_s": summary([t.voice_to_voice_s for t in mine]),
            "stages_s": {s: summary([t.stages[s] for t in mine]) for s in STAGES},
            "cut_in": sum(t.server == name and t.cut_in for t in turns),
            "speculation": work[name],
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    shown = {k: v for k, v in result.items() if k not in ("turns", "first_turns")}
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
