"""The learned end of turn against silence alone, on synthesized speech with pauses.

Each sentence of `SENTENCES` is spoken whole by the project's own Piper voices (three
of the built-in styles), then cut where its first half ends (the quietest 10 ms between
the two words by Whisper's word times, kept only if Whisper then hears the first half
end with its last word and the rest begin with its first) to make:

* a **complete** utterance: the whole sentence, then 2 s of silence;
* **incomplete** utterances: the first half (every one ends on a word that leaves the
  sentence open, as a speaker who stops to think does: "...a table for"), a pause of
  0.5, 0.75 or 1.0 s, the rest of the sentence, then 2 s of silence. The first half
  keeps the prosody it has inside the sentence.

Each is run through the server's own decision code, offline and frame by frame: Silero
VAD into `TurnDetector` with the settings of a session that sets no `silenceDurationMs`;
at each pause, the speculative transcript the listener would make (Whisper on the turn's
audio up to the pause plus `TRAILING`); at each `PauseCheck`, the transcript's words
(`turn_end.said_finished`; where they end on a word that may go on, with the text turn
model's reading, `turn_end.words_finished`) and, where they do not decide, the turn
model (`SmartTurn`) on the audio the listener would give it (`turn_end.finished`), the
verdict handed to `verdict`. An incomplete utterance is **cut in on** when its turn ends
before the second half begins. A complete one's **delay** runs from the end of its
speech (the end of the last 10 ms above -50 dBFS) to the decision: the later of the
check and the pause's start plus `TRAILING` (or the frame that showed the pause, if
later) plus Whisper's time, plus the text model's time where it was asked, and the turn
model's answer where the words do not decide: asked at the check, beside Whisper, as a
server whose cores have room asks it (the default row), or after the transcript, as it
is asked when they have none (each time measured on each call, on this machine, as it
is loaded when it runs; the two models share the VAD's lane, one after the other). A
complete one whose turn ends before its speech does (at a breath inside it) is cut in
on too, and counted apart, not as quick. The frames are whole here: the silence of
500 ms ends at the 16th frame (512 ms), where the server counts it to the millisecond.

Rows: silence alone (500 ms, the default without the model); the model alone (what a
session gets with `--no-speculative-recognition`); the model with the transcript; the
model with the transcript and the text turn model, asked after the transcript (the
default where the cores are busy) and beside it (the default). The decisions are
not random, but the speech is: Piper's synthesis draws its noise afresh each time, so
sentences made again come out a little differently (a word's end softer, a pause a
little longer), and the counts move with them. Compare rows of one run, or of runs on
one `--audio` cache.

Usage: .venv/bin/python benchmarks/end_of_turn.py [--out PATH] [--audio CACHE]

(`--audio`: keep the utterances made in CACHE, or take them from it if it is there: making
them costs a few minutes of Whisper.)
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from openlive.audio.pcm import OUTPUT_RATE  # noqa: E402
from openlive.audio.resample import resample  # noqa: E402
from openlive.backends.models import bundled_gguf, prepare_llm, prepare_whisper  # noqa: E402
from openlive.backends.piper import PiperTTS  # noqa: E402
from openlive.backends.silero import SileroVAD  # noqa: E402
from openlive.backends.smart_turn import SmartTurn  # noqa: E402
from openlive.backends.text_turn import TextTurn  # noqa: E402
from openlive.backends.voice import ASROptions  # noqa: E402
from openlive.backends.whisper import WhisperASR  # noqa: E402
from openlive.config import default_data_dir  # noqa: E402
from openlive.pipeline.listener import LEADING, TRAILING  # noqa: E402
from openlive.pipeline.turn_end import asks_words, finished, words_finished  # noqa: E402
from openlive.pipeline.turns import (  # noqa: E402
    FRAME_MS,
    PauseCheck,
    PauseStarted,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnSettings,
)

RATE = 16_000
FRAME = RATE * FRAME_MS // 1000
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "end_of_turn.json"
VOICES = ("Puck", "Kore", "Charon")
PAUSES_S = (0.5, 0.75, 1.0)
TAIL_S = 2.0

SENTENCES = [
    ("I'd like to book a table for", "two people at eight tonight."),
    ("Can you tell me what the weather will be like in", "Paris this weekend?"),
    ("My favourite thing to do on Sundays is", "going for a long walk by the river."),
    ("Could you remind me to call my", "sister tomorrow morning?"),
    ("The meeting has been moved to", "Thursday afternoon at three."),
    ("I was thinking that we could go to the", "cinema after dinner."),
    ("What is the best way to get from the station to", "the old town?"),
    ("Please add some eggs and", "a loaf of bread to my shopping list."),
    ("I need a flight from London to", "New York next Friday."),
    ("How long should I boil the", "eggs for a soft yolk?"),
    ("The reason I am calling is that", "my order has not arrived yet."),
    ("Set an alarm for", "half past six tomorrow morning."),
    ("Tell me a joke about", "cats and dogs."),
    ("I bought a new phone because", "my old one stopped working."),
    ("Can you translate the word butterfly into", "French for me?"),
    ("We should leave early so that", "we do not miss the train."),
    ("What time does the pharmacy on", "Main Street close today?"),
    ("I would like to order a large pizza with", "mushrooms and olives."),
    ("Send a message to John saying that", "I will be ten minutes late."),
    ("If it rains tomorrow, we will", "stay at home and watch a film."),
    ("Could you play some music by", "the Beatles, please?"),
    ("I think the best answer would be the", "second one on the list."),
]


@dataclass
class Utterance:
    sentence: int
    voice: str
    audio: np.ndarray
    speech_end: int
    """Sample just after the last speech of the utterance."""
    gap: tuple[int, int] | None = None
    """An incomplete utterance's pause: samples [start, end)."""


@dataclass
class Outcome:
    ended_at: float | None
    """Samples into the utterance when the turn was decided, the models' time included."""
    model_ms: list[float]
    asr_ms: list[float]
    checks: list[tuple[object, ...]]
    """Each check's probability, transcript and verdict (and the text turn model's
    probability, where it was asked)."""
    words_ms: list[float]


class Judge:
    """The models the learned end of turn asks, with their answers kept (the same audio
    gives the same answer, so each row after the first reuses them) and timed."""

    def __init__(
        self, model: SmartTurn, asr: WhisperASR | None, words: TextTurn | None = None
    ) -> None:
        self.model, self.asr, self.words = model, asr, words
        self.early = False
        """The turn model asked at the check, beside Whisper (the cores have room), not
        after the transcript where the words do not decide."""
        self._p: dict[tuple[int, int, int], tuple[float, float]] = {}
        self._text: dict[tuple[int, int, int], tuple[str, float]] = {}
        self._end: dict[str, tuple[float, float]] = {}

    def message_end(self, text: str) -> tuple[float, float]:
        assert self.words is not None
        if text not in self._end:
            started = time.perf_counter()
            p = self.words.probability(text)
            self._end[text] = (p, (time.perf_counter() - started) * 1000)
        return self._end[text]

    def probability(self, key: int, audio: np.ndarray, a: int, b: int) -> tuple[float, float]:
        if (key, a, b) not in self._p:
            started = time.perf_counter()
            p = self.model.probability(audio[a:b])
            self._p[key, a, b] = (p, (time.perf_counter() - started) * 1000)
        return self._p[key, a, b]

    def transcript(self, key: int, audio: np.ndarray, a: int, b: int) -> tuple[str, float]:
        assert self.asr is not None
        if (key, a, b) not in self._text:
            started = time.perf_counter()
            text = self.asr.transcribe(audio[a:b], "en").text
            self._text[key, a, b] = (text, (time.perf_counter() - started) * 1000)
        return self._text[key, a, b]


def run(
    vad: SileroVAD, judge: Judge | None, utterance: Utterance, settings: TurnSettings, key: int
) -> Outcome:
    """The utterance through the detector, as the listener drives it: a verdict is
    handed to the detector when the models would have given it, with the frames that
    came meanwhile scored first (a user who went on in the meantime is not cut off)."""
    stream = vad.stream()
    detector = TurnDetector(settings)
    audio = utterance.audio
    speech_start, text, text_ready = 0, None, 0.0
    pending: tuple[float, bool] | None = None
    words_ms: list[float] = []
    model_ms: list[float] = []
    asr_ms: list[float] = []
    checks: list[tuple[object, ...]] = []
    for i in range(len(audio) // FRAME):
        events = []
        if pending is not None and pending[0] <= (i + 1) * FRAME:
            events += detector.verdict(pending[1])
            decided, pending = pending[0], None
        if not events:
            events = detector.push(stream.probability(audio[i * FRAME : (i + 1) * FRAME]))
            decided = float((i + 1) * FRAME)
        for event in events:
            if isinstance(event, SpeechStarted):
                speech_start = event.frame
            elif isinstance(event, PauseStarted) and judge is not None and judge.asr:
                a = max(0, speech_start * FRAME - LEADING)
                b = event.frame * FRAME + TRAILING
                text, ms = judge.transcript(key, audio, a, b)
                asr_ms.append(ms)
                # Whisper starts once that audio is in, and the pause is known.
                text_ready = max(b, (i + 1) * FRAME) + ms * RATE / 1000
            elif isinstance(event, PauseCheck) and judge is not None:
                # The transcript first; the model only where its words do not decide
                # (or, `early`, from the check on, its answer thrown away where they do).
                said = text if judge.asr else None
                check = event.end * FRAME
                at = max(check, text_ready if judge.asr else 0)
                a = max(0, event.start * FRAME - LEADING)
                lane = 0.0  # when the VAD's lane is free again
                if judge.early and judge.asr:
                    _, ms = judge.probability(key, audio, a, check)
                    lane = check + ms * RATE / 1000
                end = None
                if judge.words is not None and asks_words(said):
                    assert said is not None
                    end, ms = judge.message_end(said)
                    words_ms.append(ms)
                    at = max(at, lane) + ms * RATE / 1000
                done = words_finished(said, end)
                p: float | None = None
                if done is None:
                    p, ms = judge.probability(key, audio, a, check)
                    model_ms.append(ms)
                    at = max(at, lane) if lane else at + ms * RATE / 1000
                    done = finished(p, said)
                    p = round(p, 3)
                pending = (at, done)
                checks.append((p, said, done) if end is None else (p, said, done, round(end, 4)))
            elif isinstance(event, SpeechEnded):
                return Outcome(decided, model_ms, asr_ms, checks, words_ms)
    return Outcome(None, model_ms, asr_ms, checks, words_ms)


def speech_end(audio: np.ndarray) -> int:
    """The end of the last 10 ms whose level is above -50 dBFS."""
    step = RATE // 100
    n = len(audio) // step
    rms = np.sqrt(np.mean(audio[: n * step].reshape(n, step) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms) > -50)
    return int(loud[-1] + 1) * step


def synthesize(tts: PiperTTS, text: str, voice: str) -> np.ndarray:
    audio = np.concatenate(list(tts.synthesize(text, voice=voice)))
    out: np.ndarray = resample(audio, OUTPUT_RATE, RATE).astype(np.float32)
    return out


def _word(text: str, index: int) -> str:
    words = re.findall(r"[a-z']+", text.lower())
    return words[index] if words else ""


def cut_point(asr: WhisperASR, audio: np.ndarray, first: str, rest: str) -> int | None:
    """Where the first half ends: of the 10 ms windows from 60 ms before the end of its
    last word to 120 ms after the start of the next (by Whisper), the quietest after
    which Whisper hears the first half end with its last word and the rest begin with
    its first; None if none does."""
    count = len(first.split())
    words = asr.transcribe(audio, "en", ASROptions(word_times=True)).words
    if len(words) <= count:
        return None
    a = max(0, int(words[count - 1].end * RATE) - RATE * 6 // 100)
    b = min(len(audio), int(words[count].start * RATE) + RATE * 12 // 100)
    step = RATE // 100
    levels = sorted(
        (float(np.mean(audio[i : i + step] ** 2)), i + step // 2)
        for i in range(a, max(a + 1, b - step), step // 2)
    )
    for _, where in levels[:6]:
        head = asr.transcribe(audio[:where], "en").text
        tail = asr.transcribe(audio[where:], "en").text
        if _word(head, -1) == _word(first, -1) and _word(tail, 0) == _word(rest, 0):
            return where
    return None


def make_utterances(tts: PiperTTS, asr: WhisperASR) -> tuple[list[Utterance], list[Utterance]]:
    complete, incomplete = [], []
    tail = np.zeros(int(TAIL_S * RATE), dtype=np.float32)
    for index, (first, rest) in enumerate(SENTENCES):
        for voice in VOICES:
            whole = synthesize(tts, f"{first} {rest}", voice)
            end = speech_end(whole)
            whole = whole[:end]
            complete.append(Utterance(index, voice, np.concatenate([whole, tail]), end))
            cut = cut_point(asr, whole, first, rest)
            if cut is None:
                print(f"  no clean cut in {first!r} ({voice}); skipped", file=sys.stderr)
                continue
            head = whole[:cut]
            head = head[: speech_end(head)]
            for pause in PAUSES_S:
                gap = np.zeros(int(pause * RATE), dtype=np.float32)
                audio = np.concatenate([head, gap, whole[cut:], tail])
                span = (len(head), len(head) + len(gap))
                incomplete.append(Utterance(index, voice, audio, len(audio) - len(tail), span))
    return complete, incomplete


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    vad: SileroVAD,
    judge: Judge | None,
    settings: TurnSettings,
    complete: list[Utterance],
    incomplete: list[Utterance],
) -> dict[str, object]:
    delays: list[float] = []
    model_ms: list[float] = []
    asr_ms: list[float] = []
    words_ms: list[float] = []
    late: list[object] = []
    early: list[object] = []
    for key, u in enumerate(complete):
        out = run(vad, judge, u, settings, key)
        model_ms += out.model_ms
        asr_ms += out.asr_ms
        words_ms += out.words_ms
        if out.ended_at is not None:
            delays.append((out.ended_at - u.speech_end) / RATE * 1000)
            if not 0 <= delays[-1] <= 300 and out.checks:
                late.append([SENTENCES[u.sentence][0], u.voice, round(delays[-1]), out.checks])
    cut_in, by_pause = 0, {p: [0, 0] for p in PAUSES_S}
    for key, u in enumerate(incomplete, start=len(complete)):
        assert u.gap is not None
        out = run(vad, judge, u, settings, key)
        words_ms += out.words_ms
        pause = round((u.gap[1] - u.gap[0]) / RATE, 2)
        by_pause[pause][1] += 1
        if out.ended_at is not None and out.ended_at <= u.gap[1]:
            cut_in += 1
            by_pause[pause][0] += 1
            early.append([SENTENCES[u.sentence][0], u.voice, pause, out.checks])
    # A complete utterance whose turn ended before its speech did was cut in on (at a
    # pause inside it): not a quick end.
    complete_cut = sum(d < 0 for d in delays)
    within = sum(0 <= d <= 300 for d in delays)
    at_limit = sum(d >= settings.silence_duration_ms for d in delays)
    return {
        "complete": len(complete),
        "complete_within_300ms": within,
        "complete_within_300ms_share": round(within / len(complete), 3),
        "delay_ms_p50": round(statistics.median(delays), 1),
        "delay_ms_p90": round(quantile(delays, 0.9), 1),
        "delay_ms_max": round(max(delays), 1),
        "complete_ended_by_the_limit": at_limit,
        "complete_cut_in": complete_cut,
        "incomplete": len(incomplete),
        "cut_in": cut_in,
        "cut_in_share": round(cut_in / len(incomplete), 3),
        "cut_in_by_pause_s": {str(p): f"{c}/{n}" for p, (c, n) in by_pause.items()},
        "model_ms_p50": round(statistics.median(model_ms), 1) if model_ms else None,
        "whisper_ms_p50": round(statistics.median(asr_ms), 1) if asr_ms else None,
        "words_model_calls": len(words_ms),
        "words_model_ms_p50": round(statistics.median(words_ms), 1) if words_ms else None,
        "complete_not_within_300ms": late,
        "incomplete_cut_in": early,
    }


BUSY = "learned: the model, the transcript and the text model, the cores busy"
"""The default where the cores have no room: the turn model asked after the transcript."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--audio", type=Path, default=None)
    args = parser.parse_args()
    vad, model = SileroVAD(), SmartTurn()
    asr = WhisperASR(prepare_whisper(default_data_dir() / "models"))
    if args.audio is not None and args.audio.is_file():
        complete, incomplete = pickle.loads(args.audio.read_bytes())
    else:
        print("synthesizing ...", file=sys.stderr)
        complete, incomplete = make_utterances(PiperTTS(), asr)
        if args.audio is not None:
            args.audio.write_bytes(pickle.dumps((complete, incomplete)))
    print(f"{len(complete)} complete, {len(incomplete)} incomplete", file=sys.stderr)

    # The model's own time per call, on a turn of 3 s (the features and one run).
    sample = complete[0].audio[: 3 * RATE]
    for _ in range(3):
        model.probability(sample)
    times = []
    for _ in range(30):
        started = time.perf_counter()
        model.probability(sample)
        times.append((time.perf_counter() - started) * 1000)

    learned = TurnSettings.from_live()
    both = Judge(model, asr)
    words = TextTurn(prepare_llm(default_data_dir() / "models", bundled_gguf()))
    rows = {
        "silence 500 ms": measure(vad, None, learned.without_model(), complete, incomplete),
        "learned: the model alone": measure(vad, Judge(model, None), learned, complete, incomplete),
        "learned: the model and the transcript": measure(vad, both, learned, complete, incomplete),
    }
    both.words = words  # the same transcripts and probabilities, kept
    rows[BUSY] = measure(vad, both, learned, complete, incomplete)
    both.early = True
    rows["learned: the model, the transcript and the text model (default)"] = measure(
        vad, both, learned, complete, incomplete
    )
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "model_ms_per_call": {
            "p50": round(statistics.median(times), 1),
            "p90": round(quantile(times, 0.9), 1),
        },
        "check_ms": learned.check_ms,
        "limit_ms": learned.silence_duration_ms,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for name, row in rows.items():
        print(
            f"{name}: complete within 300 ms {row['complete_within_300ms']}/{row['complete']}"
            f" (delay p50 {row['delay_ms_p50']} ms, p90 {row['delay_ms_p90']} ms,"
            f" {row['complete_ended_by_the_limit']} only at the limit,"
            f" {row['complete_cut_in']} cut in on before their end);"
            f" incomplete cut in on {row['cut_in']}/{row['incomplete']}"
            f" {row['cut_in_by_pause_s']}"
        )
    default = rows["learned: the model, the transcript and the text model (default)"]
    print(
        f"model per call: {report['model_ms_per_call']} ms; text model:"
        f" {default['words_model_calls']} calls, p50 {default['words_model_ms_p50']} ms;"
        f" load {report['load_average']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
