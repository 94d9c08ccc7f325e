"""A session's recognizer: each decided turn's audio to a transcript, one at a time.

The listener hands over `Utterance`s (sample spans of the session's `AudioIntake`).
`Recognition.guess` transcribes one speculatively during a pause, below the decided
turns of other sessions; `Recognition.queue` takes a decided turn, promoting its guess
if it has one; the recognizer task transcribes the queue in order (or awaits the guess) and reports
each turn with words as `UserSpoke`. Interim transcripts of the speech so far go out
as `UserSpeaking`, at the lowest priority, one at a time.

The first transcript whose language is clear fixes the session's language, when the
setup gave none: detection is slow, and on a word or two, unreliable. Until then, the
language is detected while the user speaks (`hearing`): once the turn holds
`DETECT_FROM` of speech, and while less than `DETECT_SURE` sure again each `DETECT_STEP`
more, on the speech so far, at the lowest priority; the turn's transcript (or its
guess) then waits only for what is left of the latest detection, and is made in its
language if that is that sure or was detected on nearly the whole turn, instead of
detecting it on a full window after the turn has ended (0.65 to 1.3 s on two cores).

A transcript's words, when the session asked for their times, are given in seconds of
the session's input audio, fitted to the runs of speech the VAD heard in the turn
(`word_times.py`): the recognizer's times are wrong at the edges of speech.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np

from ..audio.pcm import Samples
from ..backends.registry import VoiceModels
from ..backends.scheduler import Priority, Scheduler, Ticket
from ..backends.voice import ASROptions, Transcript, Word
from .affect import Prosody, measure, warm_up
from .intake import FRAME, RATE, AudioIntake
from .timing import TurnTiming, VoiceStats
from .word_times import fit_words, speech_runs

__all__ = [
    "INTERIM_STEP",
    "MIN_SAMPLES",
    "Recognition",
    "UserSpeaking",
    "UserSpoke",
    "Utterance",
]

log = logging.getLogger(__name__)

MAX_UTTERANCE_S = 30
"""Longer speech is cut to its last this many seconds (Whisper's window)."""
LANGUAGE_CONFIDENCE = 0.5
"""A detected language at least this likely becomes the session's language."""
INTERIM_STEP = RATE
"""New speech (1 s) after which an interim transcript is made again."""
MIN_SAMPLES = 512
"""Less audio than this (a VAD frame) is transcribed as nothing."""
DETECT_FROM = RATE * 7 // 10
"""Speech (0.7 s, its lead-in of 0.2 s included) after which its language is detected
while the user goes on speaking: on short phrases, about as often right as on the whole
phrase, and a detection that started before it ended."""
DETECT_STEP = RATE
"""New speech (1 s) after which the language, if still unsure, is detected again, on
more of the turn."""
DETECT_SURE = 0.8
"""A detection of part of a turn at least this likely stands for the whole turn's (at
0.5, a detection of the first 0.7 s was sure of a wrong language half as often again as
one of the whole turn: see `benchmarks/detection.py`)."""
DETECT_COVERS = RATE // 2
"""A detection of all but the last this much (0.5 s) of a turn stands for a detection
of the whole turn, sure or not."""


@dataclass(frozen=True, slots=True)
class UserSpoke:
    transcript: Transcript
    audio_seconds: float
    timing: TurnTiming
    prosody: Prosody | None = None
    """The turn's prosody, for affective dialog (measured only when it is on)."""
    translation: str | None = None
    """What was said, translated by the recognizer (a translation session's, when the
    language spoken is not the target); None: not translated."""


@dataclass(frozen=True, slots=True)
class UserSpeaking:
    """An interim transcript: the turn in progress so far."""

    text: str


@dataclass(slots=True)
class _Detection:
    """The language detected on samples [start, end) of a turn in progress."""

    start: int
    end: int
    task: asyncio.Task[tuple[str, float] | None]
    ticket: Ticket

    @property
    def sure(self) -> bool:
        """Done, and at least `DETECT_SURE` sure of the language."""
        task = self.task
        if not task.done() or task.cancelled() or task.exception() is not None:
            return False
        found = task.result()
        return found is not None and found[1] >= DETECT_SURE


@dataclass(slots=True)
class Utterance:
    start: int
    end: int
    """Sample positions, padding included."""
    speech_end: float
    """When the last voiced sample arrived (monotonic clock)."""
    decided: float = 0.0
    guess: asyncio.Task[Transcript] | None = None
    """Its speculative transcript, started during the pause."""
    ticket: Ticket | None = None
    """The guess's place in the scheduler's queue, promoted once the turn is decided."""

    def drop_guess(self) -> None:
        """The user went on: cancel the speculative transcript (its group waits for it)."""
        if self.guess is not None:
            self.guess.cancel()


class Recognition:
    def __init__(
        self,
        voice: VoiceModels,
        scheduler: Scheduler,
        intake: AudioIntake,
        *,
        language: str | None,
        emit: Callable[[UserSpoke | UserSpeaking], Awaitable[None]],
        stats: VoiceStats,
        affect: bool = False,
        options: ASROptions | None = None,
        speech: float = 0.5,
        silence: float = 0.35,
        translate_into: str | None = None,
        detect_each_turn: bool = False,
    ) -> None:
        """`affect`: measure each turn's prosody (affective dialog). `options`: what the
        session asks of recognition besides the language. `speech` and `silence`: the
        VAD scores that begin and end a run of speech (the turn detector's), for fitting
        words to it. `translate_into`: translate each turn into this language (a
        recognizer's code) too, when it is spoken in another. `detect_each_turn`: never
        keep a detected language (a translation session's speakers may take turns in two
        languages)."""
        self._translate_into = translate_into
        self._keep_language = not detect_each_turn
        self._options = options or ASROptions()
        self._thresholds = (speech, silence)
        self.language = language
        """The session's language (a Whisper code), None until it is known."""
        self._voice = voice
        self._scheduler = scheduler
        self._intake = intake
        self._emit = emit
        self._stats = stats
        self._affect = affect
        self._turns: asyncio.Queue[Utterance] = asyncio.Queue(maxsize=8)
        self._tasks: asyncio.TaskGroup | None = None
        self._interim: asyncio.Task[None] | None = None
        self._detection: _Detection | None = None
        """The latest detection of the language while the user spoke."""
        self.interim_end = 0
        """Where the audio of the latest interim transcript ended."""

    def start(self, tasks: asyncio.TaskGroup) -> None:
        """Transcribe the decided turns in order, in `tasks` (the listener's group),
        which also holds the guesses and interim transcripts."""
        self._tasks = tasks
        tasks.create_task(self._recognize(), name="recognizer")
        if self._affect:
            tasks.create_task(self._scheduler.run(Priority.INTERIM, warm_up), name="affect")

    def guess(self, utterance: Utterance) -> None:
        """Start transcribing a pause's utterance before the turn is decided."""
        assert self._tasks is not None
        self._stats.speculations += 1
        utterance.ticket = Ticket()
        utterance.guess = self._tasks.create_task(
            self._transcribe(
                utterance.start, utterance.end, Priority.SPECULATION, utterance.ticket
            ),
            name="speculative-recognition",
        )

    def queue(self, utterance: Utterance) -> None:
        """A decided turn: transcribe it (or take its guess) after those before it."""
        utterance.decided = time.monotonic()
        if utterance.ticket is not None:  # the guess is this turn's transcript now
            utterance.ticket.promote(Priority.RECOGNITION)
        try:
            self._turns.put_nowait(utterance)
        except asyncio.QueueFull:
            log.warning("dropping an utterance: recognition is falling behind")
            utterance.drop_guess()

    def hearing(self, start: int, end: int) -> None:
        """The user is speaking: samples [start, end) are the turn so far. While the
        language is not known, detect it on them (again as the speech grows, until
        sure), one detection at a time, below every other work."""
        asr = self._voice.asr
        if self.language is not None or not asr.capabilities.language_detection:
            return
        start = max(start, end - MAX_UTTERANCE_S * RATE, self._intake.ring.position)
        last = self._detection
        if last is not None and start <= last.end <= end:  # of this turn
            if not last.task.done() or last.sure or end - last.end < DETECT_STEP:
                return
        elif end - start < DETECT_FROM:
            return
        assert self._tasks is not None
        if last is not None:
            last.task.cancel()  # of an earlier turn, or shorter
        ticket = Ticket()
        task = self._tasks.create_task(
            self._scheduler.run_for(
                asr,
                Priority.INTERIM,
                asr.detect_language,
                self._intake.window(start, end),
                self._options,
                ticket=ticket,
            ),
            name="language-detection",
        )
        self._detection = _Detection(start, end, task, ticket)

    async def _detected(self, start: int, end: int, priority: Priority) -> tuple[str, float] | None:
        """The language detected while samples [start, end) were spoken, if it was
        sure, or on nearly all of them (else the transcription detects it on the whole
        turn, as without): waits (at `priority`) for a detection under way."""
        detection = self._detection
        if detection is None or not start <= detection.end <= end:
            return None
        detection.ticket.promote(priority)
        try:
            # shielded: a guess cancelled leaves the detection to the turn
            found = await asyncio.shield(detection.task)
        except asyncio.CancelledError:
            if detection.task.cancelled():  # replaced, not this task cancelled
                return None
            raise
        except Exception:  # noqa: BLE001 - the transcription detects it itself
            log.warning("language detection failed", exc_info=True)
            return None
        if found is None or (found[1] < DETECT_SURE and end - detection.end > DETECT_COVERS):
            return None
        return found

    @property
    def interim_running(self) -> bool:
        return self._interim is not None and not self._interim.done()

    def start_interim(self, start: int, end: int) -> None:
        """Transcribe the speech so far, samples [start, end), and report it."""
        assert self._tasks is not None
        self.interim_end = end
        self._interim = self._tasks.create_task(
            self._report_interim(start, end), name="interim-recognition"
        )

    def stop_interim(self) -> None:
        """The turn ended or began: an interim transcript not yet made is not wanted."""
        if self._interim is not None:
            self._interim.cancel()
            self._interim = None
        self.interim_end = 0

    async def _report_interim(self, start: int, end: int) -> None:
        transcript = await self._transcribe(start, end, Priority.INTERIM, words=False)
        if transcript.text:
            await self._emit(UserSpeaking(transcript.text))

    def _audio(self, start: int, end: int) -> Samples:
        return self._intake.window(max(start, end - MAX_UTTERANCE_S * RATE), end)

    async def _transcribe(
        self,
        start: int,
        end: int,
        priority: Priority = Priority.RECOGNITION,
        ticket: Ticket | None = None,
        *,
        words: bool = True,
    ) -> Transcript:
        """Samples [start, end) transcribed; its words (if asked for, and `words`) in
        seconds of the input audio."""
        first = max(start, end - MAX_UTTERANCE_S * RATE, self._intake.ring.position)
        audio = self._intake.window(first, end)
        if len(audio) < MIN_SAMPLES:
            return Transcript("", self.language or "", 0.0, len(audio) / RATE)
        asr = self._voice.asr
        options = self._options if words else replace(self._options, word_times=False)
        language, detected = self.language, None
        if language is None:
            detected = await self._detected(first, end, priority)
            if detected is not None:
                language = detected[0]
        transcript = await self._scheduler.run_for(
            asr, priority, asr.transcribe, audio, language, options, ticket=ticket
        )
        if detected is not None:  # the detector's confidence, not the recognizer's 1.0
            transcript = replace(transcript, language_probability=detected[1])
        at = first / RATE
        return replace(
            transcript,
            words=tuple(
                Word(w.text, at + max(0.0, w.start), at + max(0.0, w.start, w.end))
                for w in transcript.words
            ),
        )

    def _fitted(self, transcript: Transcript, utterance: Utterance) -> Transcript:
        """`transcript`'s words moved onto the speech the VAD heard in `utterance`
        (as they are where it heard nothing: automatic activity detection is off)."""
        if not transcript.words:
            return transcript
        first, end = utterance.start // FRAME, -(-utterance.end // FRAME)
        scores = self._intake.scores(first, end)
        if np.isnan(scores).all():
            return transcript
        speech, silence = self._thresholds
        runs = speech_runs(
            np.nan_to_num(scores).tolist(),
            first * FRAME / RATE,
            FRAME / RATE,
            speech=speech,
            silence=silence,
        )
        return replace(transcript, words=fit_words(transcript.words, runs))

    async def _translate(self, utterance: Utterance, language: str) -> str | None:
        """The turn's translation, where it is not in the target language already."""
        if language == self._translate_into:
            return None
        asr = self._voice.asr
        audio = self._audio(utterance.start, utterance.end)
        translated = await self._scheduler.run_for(
            asr, Priority.RECOGNITION, asr.translate, audio, language or None
        )
        return translated.text

    async def _recognize(self) -> None:
        while True:
            utterance = await self._turns.get()
            guess = utterance.guess
            if guess is not None and not guess.cancelled():
                transcript = await guess
                self._stats.speculations_used += 1
            else:
                transcript = await self._transcribe(utterance.start, utterance.end)
            transcript = self._fitted(transcript, utterance)
            prosody = None
            if self._affect and transcript.text:
                audio = self._audio(utterance.start, utterance.end)
                prosody = await self._scheduler.run(Priority.RECOGNITION, measure, audio)
            translation = None
            if self._translate_into and transcript.text:
                translation = await self._translate(utterance, transcript.language)
            recognized = time.monotonic()
            if (
                self._keep_language
                and self.language is None
                and transcript.language_probability >= LANGUAGE_CONFIDENCE
            ):
                self.language = transcript.language
            if transcript.text:
                timing = TurnTiming(
                    speech_end=utterance.speech_end,
                    decided=utterance.decided,
                    recognized=recognized,
                    speculative=guess is not None,
                )
                await self._emit(
                    UserSpoke(transcript, transcript.duration, timing, prosody, translation)
                )
