"""A bounded buffer of mono float32 samples that drops its oldest audio when full.

Overflow policy: drop the oldest. This is real-time audio: when a consumer (the VAD,
the ASR) falls behind, the audio that matters is what the user is saying now, and a
buffer that refused new samples would make the server answer later and later about
speech further and further in the past. So a push never fails and never blocks; when
it would exceed the capacity, the oldest samples are discarded and counted in
`AudioRing.dropped`, which the caller reports (a metric, a log line).

Samples keep their absolute position in the stream: sample 0 is the first ever
pushed, and `AudioRing.position` is the position of the first sample held. A read or
a drop advances it, so a caller can turn samples back into stream timestamps
(position / rate) however much was dropped.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openlive.audio.pcm import Samples

__all__ = ["AudioRing"]


class AudioRing:
    """At most ``capacity_samples`` float32 samples, oldest first; see the module docstring.

    Reads return copies, never views of the ring's memory, since that memory is reused.
    """

    __slots__ = ("_buf", "_len", "_start", "dropped", "position")

    def __init__(self, capacity_samples: int) -> None:
        if capacity_samples <= 0:
            raise ValueError(f"capacity_samples must be positive, got {capacity_samples}")
        self._buf: Samples = np.zeros(capacity_samples, dtype=np.float32)
        self._start = 0  # index in _buf of the oldest sample held
        self._len = 0
        self.position = 0
        """Absolute stream position of the oldest sample held (or of the next pushed)."""
        self.dropped = 0
        """Samples discarded by the overflow policy since the ring was made."""

    @property
    def capacity(self) -> int:
        return len(self._buf)

    @property
    def end(self) -> int:
        """Absolute position one past the newest sample held: the next one pushed."""
        return self.position + self._len

    def __len__(self) -> int:
        return self._len

    def push(self, samples: npt.ArrayLike) -> int:
        """Append samples, dropping the oldest ones held (or pushed) beyond the capacity.

        Returns how many samples this push dropped (also added to `dropped`).
        """
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        n = len(x)
        cap = len(self._buf)
        overflow = max(0, self._len + n - cap)
        if n >= cap:
            # Only the newest `cap` samples of this push survive; all held ones go.
            self._buf[:] = x[n - cap :]
            self._start = 0
            self._len = cap
        else:
            if overflow:
                self._advance(overflow)
            tail = (self._start + self._len) % cap
            first = min(n, cap - tail)
            self._buf[tail : tail + first] = x[:first]
            self._buf[: n - first] = x[first:]
            self._len += n
        self.position += overflow
        self.dropped += overflow
        return overflow

    def peek(self, n: int | None = None) -> Samples:
        """A copy of the oldest ``n`` samples (all if None; fewer if fewer are held)."""
        count = self._count(n)
        cap = len(self._buf)
        first = min(count, cap - self._start)
        if first == count:
            return self._buf[self._start : self._start + count].copy()
        return np.concatenate((self._buf[self._start :], self._buf[: count - first]))

    def window(self, start: int, stop: int) -> Samples:
        """A copy of the samples at absolute positions ``start`` to ``stop`` (exclusive),
        clipped to those held: only that span is copied, however full the ring."""
        start = max(start, self.position)
        stop = min(stop, self.end)
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        cap = len(self._buf)
        begin = (self._start + start - self.position) % cap
        count = stop - start
        first = min(count, cap - begin)
        if first == count:
            return self._buf[begin : begin + count].copy()
        return np.concatenate((self._buf[begin:], self._buf[: count - first]))

    def read(self, n: int) -> Samples:
        """Remove and return the oldest ``n`` samples (fewer if fewer are held).

        A consumer that needs whole frames checks ``len(ring) >= n`` first.
        """
        out = self.peek(n)
        self._advance(len(out))
        self.position += len(out)
        return out

    def drain(self) -> Samples:
        """Remove and return every sample held."""
        return self.read(self._len)

    def skip(self, n: int) -> int:
        """Discard the oldest ``n`` samples (fewer if fewer are held) without copying them;
        returns how many went. Not counted in `dropped`, which is for overflow only.
        """
        count = self._count(n)
        self._advance(count)
        self.position += count
        return count

    def clear(self) -> None:
        """Discard everything held; the position moves on to the end."""
        self.skip(self._len)

    def _count(self, n: int | None) -> int:
        if n is None:
            return self._len
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        return min(n, self._len)

    def _advance(self, count: int) -> None:
        self._start = (self._start + count) % len(self._buf)
        self._len -= count

    def __repr__(self) -> str:
        return (
            f"AudioRing(len={self._len}, capacity={len(self._buf)}, "
            f"position={self.position}, dropped={self.dropped})"
        )
