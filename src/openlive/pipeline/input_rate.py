"""How fast one connection may send: token buckets for its messages and its bytes.

- **Messages**: `messages_per_second` on average, in bursts of up to two seconds' worth.
  Audio in 20 ms chunks is 50 messages a second, so the default leaves room for any
  client that streams in real time, and none for one that floods the node: past it,
  the connection is closed with 1011 `rate_reason(...)`.
- **Bytes**: `bytes_per_second` on average, in bursts of up to one message of the
  largest size. Decoding and checking a message costs the event loop time in
  proportion to its size (about 0.1 ms a kilobyte at worst), so this bounds the share
  of it one connection can take. A connection over it is not closed: its next message
  is read once the bucket has refilled, so that a client that sends a large image
  now and then is only slowed, while one that sends them back to back is held to the
  rate (the socket's flow control makes it wait).

No I/O: the clock is passed in, and `InputRate.admit` says how long to wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import (
    DEFAULT_BYTES_PER_SECOND,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MESSAGES_PER_SECOND,
)
from ..protocol.errors import ResourceExhausted

__all__ = [
    "InputRate",
    "UNLIMITED",
    "RateSettings",
    "rate_reason",
]


def rate_reason(messages_per_second: float) -> str:
    return f"RESOURCE_EXHAUSTED: Too many messages: more than {messages_per_second:g} a second."


@dataclass(frozen=True, slots=True)
class RateSettings:
    messages_per_second: float | None = DEFAULT_MESSAGES_PER_SECOND
    """None: no limit."""
    bytes_per_second: float | None = DEFAULT_BYTES_PER_SECOND
    """None: no limit."""
    burst_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """The byte bucket's size: the largest message (`--max-message-bytes`)."""


UNLIMITED = RateSettings(messages_per_second=None, bytes_per_second=None)


class _Bucket:
    def __init__(self, rate: float, size: float, now: float) -> None:
        self.rate, self.size = rate, size
        self.level = size
        self._last = now

    def refill(self, now: float) -> None:
        self.level = min(self.size, self.level + (now - self._last) * self.rate)
        self._last = now


class InputRate:
    def __init__(self, settings: RateSettings, now: float) -> None:
        self.settings = settings
        messages, nbytes = settings.messages_per_second, settings.bytes_per_second
        self._messages = _Bucket(messages, 2 * messages, now) if messages else None
        self._bytes = _Bucket(nbytes, max(settings.burst_bytes, nbytes), now) if nbytes else None

    def admit(self, size: int, now: float) -> float:
        """Count one message of `size` bytes that arrived at `now` (monotonic seconds).

        Returns the seconds to wait before reading the next message (0.0 when none);
        raises `ResourceExhausted` when the message is over the message rate."""
        if self._messages is not None:
            self._messages.refill(now)
            if self._messages.level < 1:
                assert self.settings.messages_per_second is not None
                raise ResourceExhausted(rate_reason(self.settings.messages_per_second))
            self._messages.level -= 1
        if self._bytes is None:
            return 0.0
        bucket = self._bytes
        bucket.refill(now)
        bucket.level -= size  # may go below zero: the debt is waited out before the next
        return max(0.0, -bucket.level / bucket.rate)
