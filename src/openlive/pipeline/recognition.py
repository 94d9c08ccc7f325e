"""A session's recognizer: each decided turn's audio to a transcript, one at a time.

The listener hands over `Utterance`s (sample spans of the session's `AudioIntake`).
`Recognition.guess` transcribes one speculatively during a pause, below the decided
turns of other sessions; `Recognition.queue` takes a decided turn, promoting its guess
if it has one; the recognizer task transcribes the queue in order (or awaits the guess) and reports
each turn with words as `UserSpoke`. Interim transcripts of the speech so far go out
as `UserSpeaking`, at the lowest priority, one at a time.

The first transcript whose language is clear fixes the session's language, when the
setup gave none: detection is slow, and on a word or two, unreliable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..audio.pcm import Samples
from ..backends.registry import VoiceModels
from ..backends.scheduler import Priority, Scheduler, Ticket
from ..backends.voice import Transcript
from .affect import Prosody, measure, warm_up
from .intake import RATE, AudioIntake
from .timing import TurnTiming, VoiceStats

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


@dataclass(frozen=True, slots=True)
class UserSpoke:
    transcript: Transcript
    audio_seconds: float
    timing: TurnTiming
    prosody: Prosody | None = None
    """The turn's prosody, for affective dialog (measured only when it is on)."""


@dataclass(frozen=True, slots=True)
class UserSpeaking:
    """An interim transcript: the turn in progress so far."""

    text: str


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
    ) -> None:
        """`affect`: measure each turn's prosody (affective dialog)."""
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
        transcript = await self._transcribe(start, end, Priority.INTERIM)
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
    ) -> Transcript:
        audio = self._audio(start, end)
        if len(audio) < MIN_SAMPLES:
            return Transcript("", self.language or "", 0.0, len(audio) / RATE)
        asr = self._voice.asr
        return await self._scheduler.run_for(
            asr, priority, asr.transcribe, audio, self.language, ticket=ticket
        )

    async def _recognize(self) -> None:
        while True:
            utterance = await self._turns.get()
            guess = utterance.guess
            if guess is not None and not guess.cancelled():
                transcript = await guess
                self._stats.speculations_used += 1
            else:
                transcript = await self._transcribe(utterance.start, utterance.end)
            prosody = None
            if self._affect and transcript.text:
                audio = self._audio(utterance.start, utterance.end)
                prosody = await self._scheduler.run(Priority.RECOGNITION, measure, audio)
            recognized = time.monotonic()
            if self.language is None and transcript.language_probability >= LANGUAGE_CONFIDENCE:
                self.language = transcript.language
            if transcript.text:
                timing = TurnTiming(
                    speech_end=utterance.speech_end,
                    decided=utterance.decided,
                    recognized=recognized,
                    speculative=guess is not None,
                )
                await self._emit(UserSpoke(transcript, transcript.duration, timing, prosody))
