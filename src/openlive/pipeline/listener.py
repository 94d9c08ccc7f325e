"""A session's ear: audio in, turns and transcripts out.

`Listener.feed` takes each `realtimeInput.audio` blob as it arrives (decoding and
resampling to 16 kHz on the spot: both are cheap), and keeps the samples in a bounded
ring. `Listener.run` scores 32 ms frames with the VAD on the voice scheduler, drives the
`TurnDetector`, and hands each finished utterance to the recognizer. What it hears goes
to the runner as `VoiceStarted` (the user began to speak: time to stop talking) and
`UserSpoke` (a turn's transcript).

Audio that stops arriving counts as silence after `silence_duration_ms` of wall-clock
time, so a whole recording sent as one message ends its turn as a real-time stream would.
With automatic activity detection disabled, `activity_start` / `activity_end` delimit
the turn instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from ..audio.pcm import parse_pcm_mime, pcm16_to_float
from ..audio.resample import StreamingResampler
from ..audio.ring import AudioRing
from ..backends.registry import VoiceModels
from ..backends.scheduler import Priority, Scheduler
from ..backends.voice import Transcript
from ..protocol.messages import Blob
from .turns import (
    FRAME_MS,
    PauseEnded,
    PauseStarted,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnEvent,
)

__all__ = ["Listener", "ListenerEvent", "UserSpoke", "VoiceStarted"]

log = logging.getLogger(__name__)

RATE = 16_000
FRAME = RATE * FRAME_MS // 1000
MAX_UTTERANCE_S = 30
"""Longer speech is cut into turns of this length (Whisper's window)."""
RING_S = 40
PADDING = RATE // 5
"""Audio kept on each side of an utterance: Whisper does better with a lead-in."""
LANGUAGE_CONFIDENCE = 0.5
"""A detected language at least this likely becomes the session's language."""


@dataclass(frozen=True, slots=True)
class VoiceStarted:
    pass


@dataclass(frozen=True, slots=True)
class UserSpoke:
    transcript: Transcript
    audio_seconds: float


ListenerEvent = VoiceStarted | UserSpoke


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
    ) -> None:
        self._voice = voice
        self._scheduler = scheduler
        self._detector = detector
        self._automatic = automatic
        self._language = language
        self._emit = emit
        self._vad = voice.vad.stream()
        self._resampler: StreamingResampler | None = None
        self._ring = AudioRing(RING_S * RATE)
        self._scored = 0
        """Absolute index of the next sample to score (always a frame boundary)."""
        self._arrived = asyncio.Event()
        self._manual_start: int | None = None
        self._utterances: asyncio.Queue[tuple[int, int]] = asyncio.Queue(maxsize=8)
        self._stream_ended = False

    # --- called by the runner on each client message (no awaiting) --------------------

    def feed(self, blob: Blob) -> None:
        """Decode, resample and keep one audio blob; raise InvalidArgument if malformed."""
        rate = parse_pcm_mime(blob.mime_type)
        samples = pcm16_to_float(blob.data)
        if self._resampler is None or self._resampler.in_rate != rate:
            self._resampler = StreamingResampler(rate, RATE)
        self._ring.push(self._resampler.process(samples))
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
        self._queue_utterance(start, self._ring.end)

    # --- the listener's tasks ------------------------------------------------------

    async def run(self) -> None:
        """Score frames and transcribe turns until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._recognize(), name="recognizer")
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
        audio = self._ring.peek()[start - self._ring.position :][: count * FRAME]
        frames = audio.reshape(count, FRAME)
        probabilities = await self._scheduler.run(
            Priority.VAD, lambda: [self._vad.probability(f) for f in frames]
        )
        self._scored = start + count * FRAME
        for probability in probabilities:
            await self._events(self._detector.push(probability))

    async def _events(self, events: list[TurnEvent]) -> None:
        for event in events:
            match event:
                case SpeechStarted():
                    await self._emit(VoiceStarted())
                case SpeechEnded(start, end):
                    self._queue_utterance(start * FRAME, end * FRAME)
                case PauseStarted() | PauseEnded():
                    pass  # where speculative recognition will start and be dropped

    def _queue_utterance(self, start: int, end: int) -> None:
        padding = PADDING
        start = max(self._ring.position, start - padding)
        end = min(self._ring.end, end + padding)
        if end - start < FRAME:
            return
        try:
            self._utterances.put_nowait((start, end))
        except asyncio.QueueFull:
            log.warning("dropping an utterance: recognition is falling behind")

    async def _recognize(self) -> None:
        while True:
            start, end = await self._utterances.get()
            held = self._ring.peek()
            audio = held[max(0, start - self._ring.position) : end - self._ring.position]
            if len(audio) < FRAME:
                continue
            audio = np.ascontiguousarray(audio[-MAX_UTTERANCE_S * RATE :])
            transcript = await self._scheduler.run(
                Priority.RECOGNITION, self._voice.asr.transcribe, audio, self._language
            )
            if self._language is None and transcript.language_probability >= LANGUAGE_CONFIDENCE:
                # Detection is slow and, on a word or two, unreliable: once the session's
                # language is clear, keep it.
                self._language = transcript.language
            if transcript.text:
                await self._emit(UserSpoke(transcript, len(audio) / RATE))
