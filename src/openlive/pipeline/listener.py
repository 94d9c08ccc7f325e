"""A session's ear: audio in, turns and transcripts out.

`Listener.feed` takes each `realtimeInput.audio` blob as it arrives (decoding and
resampling to 16 kHz on the spot: both are cheap), and keeps the samples in a bounded
ring. `Listener.run` scores 32 ms frames with the VAD on the voice scheduler, drives the
`TurnDetector`, and hands each finished utterance to the recognizer. What it hears goes
to the runner as `VoiceStarted` (the user began to speak: time to stop talking),
`VoiceEnded` (they stopped) and `UserSpoke` (a turn's transcript).

Audio that stops arriving counts as silence after `silence_duration_ms` of wall-clock
time, so a whole recording sent as one message ends its turn as a real-time stream would.
With automatic activity detection disabled, `activity_start` / `activity_end` delimit
the turn instead.

Recognition is speculative: as soon as a pause has lasted `TRAILING` (the audio an
utterance keeps after its speech), the speech so far is transcribed, while the silence
window runs, at a priority below the decided turns of other sessions (promoted to
theirs if the pause ends the turn while the guess still waits). If the user goes on
speaking, that work is dropped; if the pause ends the turn, the transcript is already
there (or on its way). A speculative transcript is of
exactly the audio the turn would have been transcribed from, so it changes when the
answer starts, never what was heard.

Interim transcripts (`interim=True`): while the user speaks, the speech so far is
transcribed again after each `INTERIM_STEP` of new speech, at the lowest priority and
one at a time, and reported as `UserSpeaking`. They show the user that they are being
heard; the turn's own transcript is still made from its whole audio.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from ..audio.pcm import parse_pcm_mime, pcm16_to_float
from ..audio.resample import StreamingResampler
from ..audio.ring import AudioRing
from ..backends.registry import VoiceModels
from ..backends.scheduler import Priority, Scheduler, Ticket
from ..backends.vad_batch import VADBatcher
from ..backends.voice import Transcript
from ..protocol.messages import Blob
from .affect import Prosody, measure, warm_up
from .timing import TurnTiming, VoiceStats
from .turns import (
    FRAME_MS,
    PauseEnded,
    PauseStarted,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnEvent,
)

__all__ = ["Listener", "ListenerEvent", "UserSpeaking", "UserSpoke", "VoiceEnded", "VoiceStarted"]

log = logging.getLogger(__name__)

RATE = 16_000
FRAME = RATE * FRAME_MS // 1000
MAX_UTTERANCE_S = 30
"""Longer speech is cut into turns of this length (Whisper's window)."""
RING_S = 40
LEADING = RATE // 5
"""Audio kept before an utterance's speech: Whisper does better with a lead-in."""
TRAILING = 2 * FRAME
"""Audio kept after its speech; a pause this long starts speculative recognition."""
LANGUAGE_CONFIDENCE = 0.5
"""A detected language at least this likely becomes the session's language."""
INTERIM_STEP = RATE
"""New speech (1 s) after which an interim transcript is made again."""


@dataclass(frozen=True, slots=True)
class VoiceStarted:
    pass


@dataclass(frozen=True, slots=True)
class VoiceEnded:
    """The user's speech ended (its transcript, if any words, follows as `UserSpoke`)."""


@dataclass(frozen=True, slots=True)
class UserSpoke:
    transcript: Transcript
    audio_seconds: float
    timing: TurnTiming
    prosody: Prosody | None = None
    """The turn's prosody, for affective dialog (measured only when it is on)."""


@dataclass(slots=True)
class _Utterance:
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


@dataclass(frozen=True, slots=True)
class UserSpeaking:
    """An interim transcript: the turn in progress so far."""

    text: str


ListenerEvent = VoiceStarted | VoiceEnded | UserSpeaking | UserSpoke


class Listener:
    def __init__(
        self,
        voice: VoiceModels,
        scheduler: Scheduler,
        detector: TurnDetector,
        *,
        automatic: bool,
        language: str | None,
        emit: Callable[[ListenerEvent], Awaitable[None]],
        speculate: bool = True,
        interim: bool = False,
        all_input: bool = False,
        stats: VoiceStats | None = None,
        affect: bool = False,
        vad: VADBatcher | None = None,
    ) -> None:
        """`all_input` (``turnCoverage: TURN_INCLUDES_ALL_INPUT``): a turn's audio starts
        where the previous turn's ended, silence included, rather than just before its
        speech. `vad`: the batcher shared by the sessions (else one of its own)."""
        self._affect = affect
        """Measure each turn's prosody (affective dialog)."""
        self._voice = voice
        self._scheduler = scheduler
        self._detector = detector
        self._automatic = automatic
        self._language = language
        self._emit = emit
        self._vad = voice.vad.stream()
        self._batcher = vad or VADBatcher(voice.vad, scheduler)
        self._resampler: StreamingResampler | None = None
        self._ring = AudioRing(RING_S * RATE)
        self._scored = 0
        """Absolute index of the next sample to score (always a frame boundary)."""
        self._arrived = asyncio.Event()
        self._manual_start: int | None = None
        self._utterances: asyncio.Queue[_Utterance] = asyncio.Queue(maxsize=8)
        self._stream_ended = False
        self._speculate = speculate
        self._stats = stats or VoiceStats()
        self._speech_start = 0
        """The first frame of the speech in progress."""
        self._pause: _Utterance | None = None
        """The turn as it would be if the current pause ended it."""
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=4096)
        """(ring end after a blob, when it arrived): when each sample came in."""
        self._tasks: asyncio.TaskGroup | None = None
        self._interim = interim
        self._all_input = all_input
        self._turn_from = 0
        """Where the audio after the last turn begins."""
        self._interim_task: asyncio.Task[None] | None = None
        self._interim_end = 0
        """Where the audio of the latest interim transcript ended."""

    # --- called by the runner on each client message (no awaiting) --------------------

    def feed(self, blob: Blob) -> None:
        """Decode, resample and keep one audio blob; raise InvalidArgument if malformed."""
        rate = parse_pcm_mime(blob.mime_type)
        samples = pcm16_to_float(blob.data)
        if self._resampler is None or self._resampler.in_rate != rate:
            self._resampler = StreamingResampler(rate, RATE)
        self._ring.push(self._resampler.process(samples))
        self._arrivals.append((self._ring.end, time.monotonic()))
        self._arrived.set()

    def audio_stream_end(self) -> None:
        if self._resampler is not None:
            self._ring.push(self._resampler.flush())
        self._stream_ended = True
        self._arrived.set()

    def activity_start(self) -> None:
        self._manual_start = self._ring.end

    def activity_end(self) -> None:
        if self._manual_start is None:
            return
        start, self._manual_start = self._manual_start, None
        end = self._ring.end
        utterance = self._utterance(start, end)
        if utterance is not None:
            self._queue(utterance)

    # --- the listener's tasks ------------------------------------------------------

    async def run(self) -> None:
        """Score frames and transcribe turns until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            tasks.create_task(self._recognize(), name="recognizer")
            if self._affect:
                tasks.create_task(self._scheduler.run(Priority.INTERIM, warm_up), name="affect")
            if self._automatic:
                await self._detect()
            else:
                await asyncio.Event().wait()

    async def _detect(self) -> None:
        idle_timeout = self._detector.settings.silence_duration_ms / 1000
        while True:
            if self._ring.end - self._scored < FRAME:
                self._arrived.clear()
                try:
                    async with asyncio.timeout(idle_timeout if self._detector.speaking else None):
                        await self._arrived.wait()
                except TimeoutError:
                    await self._events(self._detector.flush())  # audio stopped coming
                    continue
                if self._stream_ended:
                    self._stream_ended = False
                    await self._score_available()
                    await self._events(self._detector.flush())
                    continue
            await self._score_available()

    async def _score_available(self) -> None:
        # Audio the ring dropped before it was scored counts as silence, which keeps
        # the detector's frame numbers equal to sample positions / FRAME.
        lost = (self._ring.position - self._scored + FRAME - 1) // FRAME
        for _ in range(max(0, lost)):
            await self._events(self._detector.push(0.0))
            self._scored += FRAME
        start = self._scored
        count = (self._ring.end - start) // FRAME
        if count == 0:
            return
        audio = self._ring.window(start, start + count * FRAME)
        frames = audio.reshape(count, FRAME)
        probabilities = await self._batcher.score(self._vad, frames)
        self._scored = start + count * FRAME
        for probability in probabilities:
            await self._events(self._detector.push(probability))
        pause = self._pause
        if pause is not None and pause.guess is None and self._ring.end >= pause.end:
            self._guess(pause)
        elif (
            self._interim
            and self._language is not None  # else each would detect it: too slow
            and self._detector.speaking
            and pause is None
            and (self._interim_task is None or self._interim_task.done())
            and self._scored - max(self._interim_end, self._speech_start * FRAME) >= INTERIM_STEP
        ):
            self._start_interim()

    async def _events(self, events: list[TurnEvent]) -> None:
        for event in events:
            match event:
                case SpeechStarted(frame):
                    self._speech_start = frame
                    self._stop_interim()
                    await self._emit(VoiceStarted())
                case PauseStarted(frame):
                    if self._speculate:
                        self._pause = self._utterance(self._speech_start * FRAME, frame * FRAME)
                case PauseEnded():
                    self._drop_guess()
                case SpeechEnded(start, end):
                    self._stop_interim()
                    await self._emit(VoiceEnded())
                    pause, self._pause = self._pause, None
                    utterance = self._utterance(start * FRAME, end * FRAME)
                    if utterance is None:
                        self._drop_guess(pause)
                    elif pause is not None and (pause.start, pause.end) == (
                        utterance.start,
                        utterance.end,
                    ):
                        pause.end = min(pause.end, self._ring.end)
                        self._queue(pause)
                    else:
                        self._drop_guess(pause)
                        self._queue(utterance)

    def _utterance(self, start: int, end: int) -> _Utterance | None:
        """The turn whose speech spans samples [start, end), with its padding."""
        speech_end = self._arrival(end)
        start = min(start, self._turn_from) if self._all_input else start - LEADING
        start, end = max(self._ring.position, start), end + TRAILING
        if min(end, self._ring.end) - start < FRAME:
            return None
        return _Utterance(start, end, speech_end)

    def _arrival(self, end: int) -> float:
        """When the samples before `end` had all arrived (now, if it is not on record)."""
        i = bisect.bisect_left(self._arrivals, end, key=lambda a: a[0])
        return self._arrivals[i][1] if i < len(self._arrivals) else time.monotonic()

    def _guess(self, pause: _Utterance) -> None:
        assert self._tasks is not None
        self._stats.speculations += 1
        pause.ticket = Ticket()
        pause.guess = self._tasks.create_task(
            self._transcribe(pause.start, pause.end, Priority.SPECULATION, pause.ticket),
            name="speculative-recognition",
        )

    def _drop_guess(self, pause: _Utterance | None = None) -> None:
        """The user went on: cancel the speculative transcript (the group waits for it)."""
        if pause is None:
            pause, self._pause = self._pause, None
        if pause is not None and pause.guess is not None:
            pause.guess.cancel()

    def _start_interim(self) -> None:
        assert self._tasks is not None
        start, end = self._speech_start * FRAME - LEADING, self._scored
        self._interim_end = end
        self._interim_task = self._tasks.create_task(
            self._report_interim(start, end), name="interim-recognition"
        )

    async def _report_interim(self, start: int, end: int) -> None:
        transcript = await self._transcribe(start, end, Priority.INTERIM)
        if transcript.text:
            await self._emit(UserSpeaking(transcript.text))

    def _stop_interim(self) -> None:
        """The turn ended or began: an interim transcript not yet made is not wanted."""
        if self._interim_task is not None:
            self._interim_task.cancel()
            self._interim_task = None
        self._interim_end = 0

    def _queue(self, utterance: _Utterance) -> None:
        utterance.end = min(utterance.end, self._ring.end)
        self._turn_from = utterance.end
        utterance.decided = time.monotonic()
        if utterance.ticket is not None:  # the guess is this turn's transcript now
            utterance.ticket.promote(Priority.RECOGNITION)
        try:
            self._utterances.put_nowait(utterance)
        except asyncio.QueueFull:
            log.warning("dropping an utterance: recognition is falling behind")
            if utterance.guess is not None:
                utterance.guess.cancel()

    def _audio(self, start: int, end: int) -> np.ndarray:
        return self._ring.window(max(start, end - MAX_UTTERANCE_S * RATE), end)

    async def _transcribe(
        self,
        start: int,
        end: int,
        priority: Priority = Priority.RECOGNITION,
        ticket: Ticket | None = None,
    ) -> Transcript:
        audio = self._audio(start, end)
        if len(audio) < FRAME:
            return Transcript("", self._language or "", 0.0, len(audio) / RATE)
        asr = self._voice.asr
        return await self._scheduler.run_for(
            asr, priority, asr.transcribe, audio, self._language, ticket=ticket
        )

    async def _recognize(self) -> None:
        while True:
            utterance = await self._utterances.get()
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
            if self._language is None and transcript.language_probability >= LANGUAGE_CONFIDENCE:
                # Detection is slow and, on a word or two, unreliable: once the session's
                # language is clear, keep it.
                self._language = transcript.language
            if transcript.text:
                timing = TurnTiming(
                    speech_end=utterance.speech_end,
                    decided=utterance.decided,
                    recognized=recognized,
                    speculative=guess is not None,
                )
                await self._emit(UserSpoke(transcript, transcript.duration, timing, prosody))
