"""A session's audio as it arrives: decoded, resampled to 16 kHz and kept in a ring,
with the time each sample came in (the latency of a turn counts from its last sample)
and the VAD's score of each frame (word times are fitted to the speech it heard).

A sample's position in the ring is its place in the connection's input audio: sample
``n`` was heard ``n / RATE`` seconds into the audio, whatever rate the client sends (the
resampler keeps the time of each sample, `audio/resample.py`), and that is the time
`voiceActivity` and word offsets report. A change of rate flushes the old resampler
first, so that no audio, and no time, is lost at the change."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque

import numpy as np

from ..audio.pcm import Samples, parse_pcm_mime, pcm16_to_float
from ..audio.resample import StreamingResampler
from ..audio.ring import AudioRing
from ..protocol.messages import Blob
from .turns import FRAME_MS

__all__ = ["FRAME", "RATE", "AudioIntake"]

RATE = 16_000
FRAME = RATE * FRAME_MS // 1000
"""One VAD frame (512 samples): the VAD scores the audio in these steps."""
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
        self._scores = np.full(RING_S * RATE // FRAME, np.nan, dtype=np.float32)
        """The VAD's score of frame ``n`` at ``n % len``; NaN where none is known."""
        self._scored = 0
        """One past the last frame scored."""

    def feed(self, blob: Blob) -> None:
        """Decode, resample and keep one audio blob; raise InvalidArgument if malformed."""
        rate = parse_pcm_mime(blob.mime_type)
        samples = pcm16_to_float(blob.data)
        if self._resampler is None or self._resampler.in_rate != rate:
            if self._resampler is not None:
                self.ring.push(self._resampler.flush())
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

    def score(self, first: int, scores: Samples) -> None:
        """Keep the VAD's scores of frames ``first``, ``first + 1``, ... (the frames
        between the last ones kept and `first` are marked unscored)."""
        size = len(self._scores)
        end = first + len(scores)
        for i in range(max(self._scored, end - size), end):
            self._scores[i % size] = scores[i - first] if i >= first else np.nan
        self._scored = max(self._scored, end)

    def scores(self, first: int, end: int) -> Samples:
        """The scores of frames [first, end); NaN for a frame not scored yet, or scored
        too long ago to be kept."""
        size = len(self._scores)
        indexes = np.arange(first, end)
        kept = (indexes >= max(0, self._scored - size)) & (indexes < self._scored)
        return np.where(kept, self._scores[indexes % size], np.nan).astype(np.float32)
