"""A session's audio as it arrives: decoded, resampled to 16 kHz and kept in a ring,
with the time each sample came in (the latency of a turn counts from its last sample)."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque

from ..audio.pcm import Samples, parse_pcm_mime, pcm16_to_float
from ..audio.resample import StreamingResampler
from ..audio.ring import AudioRing
from ..protocol.messages import Blob

__all__ = ["RATE", "AudioIntake"]

RATE = 16_000
RING_S = 40
"""Seconds of input kept: more than the longest turn (Whisper's 30 s window)."""


class AudioIntake:
    def __init__(self) -> None:
        self.ring = AudioRing(RING_S * RATE)
        self.arrived = asyncio.Event()
        """Set when audio (or the end of the stream) has come in."""
        self.stream_ended = False
        """`audioStreamEnd` came and has not been acted on yet."""
        self._resampler: StreamingResampler | None = None
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=4096)
        """(ring end after a blob, when it arrived): when each sample came in."""

    def feed(self, blob: Blob) -> None:
        """Decode, resample and keep one audio blob; raise InvalidArgument if malformed."""
        rate = parse_pcm_mime(blob.mime_type)
        samples = pcm16_to_float(blob.data)
        if self._resampler is None or self._resampler.in_rate != rate:
            self._resampler = StreamingResampler(rate, RATE)
        self.ring.push(self._resampler.process(samples))
        self._arrivals.append((self.ring.end, time.monotonic()))
        self.arrived.set()

    def end_stream(self) -> None:
        if self._resampler is not None:
            self.ring.push(self._resampler.flush())
        self.stream_ended = True
        self.arrived.set()

    def arrival(self, end: int) -> float:
        """When the samples before `end` had all arrived (now, if it is not on record)."""
        i = bisect.bisect_left(self._arrivals, end, key=lambda a: a[0])
        return self._arrivals[i][1] if i < len(self._arrivals) else time.monotonic()

    def window(self, start: int, end: int) -> Samples:
        return self.ring.window(start, end)
