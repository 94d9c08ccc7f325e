"""Sample-rate conversion with soxr: a stateful streaming resampler, and a one-shot helper.

A session needs one `StreamingResampler` per direction: client audio at the rate of
its mime type down (or up) to 16 kHz for the VAD and Whisper, and TTS audio (Piper
speaks at 22.05 kHz) up to the 24 kHz the Live API always sends. Stateful means the
filter's history is carried from one chunk to the next: feeding a signal in 20 ms
chunks gives the same samples as feeding it whole, with no click at a chunk boundary.
A fresh resampler per chunk would restart the filter at every boundary.

Quality: soxr "HQ" (20-bit precision, a passband to about 91 % of the lower Nyquist
rate). Its output is already 16-bit PCM on the wire, and HQ's error sits below 16-bit
quantisation, so "VHQ" (28-bit) buys nothing audible but a longer filter: measured with
20 ms chunks, HQ holds back about 22 ms of audio on average (at most about 37 ms, as
soxr works in blocks), VHQ about 43 ms (at most about 76 ms), on every voice path
(48k, 24k -> 16k, 16k -> 24k, 22.05k -> 24k). Latency is what this server is judged by.

soxr removes its filter's group delay itself: output sample k belongs at time
k / out_rate, the same instant as input sample k * in_rate / out_rate. So the only
delay is the audio held back until `flush`; `delay` says how much is held.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from openlive.audio.pcm import Samples

__all__ = ["QUALITY", "StreamingResampler", "resample"]

QUALITY: Final = "HQ"
"""The soxr quality of every resampler here (see the module docstring for why)."""

_EMPTY: Final[Samples] = np.zeros(0, dtype=np.float32)


def _mono_float32(samples: npt.ArrayLike) -> Samples:
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D array of mono samples, got shape {x.shape}")
    return x


def _check_rate(name: str, rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer, got {rate!r}")


class StreamingResampler:
    """Converts one continuous mono float32 stream from ``in_rate`` to ``out_rate``.

    Call `process` with each chunk as it arrives (any size, empty included) and
    `flush` once at the end of the stream to get the held-back tail; after `flush`
    (or `reset`) the resampler starts a new stream. With ``in_rate == out_rate`` it
    does no work: `process` returns its input array itself, not a copy.

    Not thread-safe; one instance per stream.
    """

    __slots__ = ("_in_seen", "_out_made", "_stream", "in_rate", "out_rate")

    def __init__(self, in_rate: int, out_rate: int) -> None:
        _check_rate("in_rate", in_rate)
        _check_rate("out_rate", out_rate)
        self.in_rate: Final = in_rate
        self.out_rate: Final = out_rate
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, 1, dtype="float32", quality=QUALITY
            )
        self._in_seen = 0
        self._out_made = 0

    @property
    def passthrough(self) -> bool:
        """Whether the rates match, so that samples pass through untouched."""
        return self._stream is None

    @property
    def delay(self) -> float:
        """Output samples owed for input already given: what `flush` would return now.

        soxr works in blocks, so this varies from chunk to chunk; it is 0 in passthrough.
        """
        if self._stream is None:
            return 0.0
        return self._in_seen * self.out_rate / self.in_rate - self._out_made

    def process(self, samples: Samples) -> Samples:
        """Resample the next chunk of the stream; returns what is ready (possibly nothing)."""
        x = _mono_float32(samples)
        if self._stream is None:
            return x
        self._in_seen += len(x)
        out = np.asarray(self._stream.resample_chunk(x), dtype=np.float32)
        self._out_made += len(out)
        return out

    def flush(self) -> Samples:
        """End the stream: return the held-back tail, and get ready for a new stream."""
        if self._stream is None:
            return _EMPTY
        out = np.asarray(self._stream.resample_chunk(_EMPTY, last=True), dtype=np.float32)
        self.reset()
        return out

    def reset(self) -> None:
        """Drop the held-back audio and the filter's history (on a barge-in, say)."""
        if self._stream is not None:
            self._stream.clear()
        self._in_seen = 0
        self._out_made = 0

    def __repr__(self) -> str:
        return f"StreamingResampler({self.in_rate}, {self.out_rate})"


def resample(samples: Samples, in_rate: int, out_rate: int) -> Samples:
    """Resample a whole buffer at once; the same samples as a `StreamingResampler`
    fed the buffer then flushed, of length ``round(len(samples) * out_rate / in_rate)``.
    """
    _check_rate("in_rate", in_rate)
    _check_rate("out_rate", out_rate)
    x = _mono_float32(samples)
    if in_rate == out_rate:
        return x
    return np.asarray(soxr.resample(x, in_rate, out_rate, quality=QUALITY), dtype=np.float32)
