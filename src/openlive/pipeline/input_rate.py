"""How fast one connection may send: token buckets for its messages and its bytes.

- **Messages**: `messages_per_second` on average, in bursts of up to two seconds' worth.
  Audio in 20 ms chunks is 50 messages a second, so the default leaves room for any
  client that streams in real time, and none for one that floods the node: past it,
  the connection is closed with 1011 `rate_reason(...)`.
- **Bytes**: `bytes_per_second` on average, in bursts of up to one message of the
  largest size. A message is charged its size, or its decoding time at
  `DECODE_BYTES_PER_SECOND` (20 MB a second) if that is more, so this bounds the share
  of the event loop one connection can take, whatever the shape of what it sends. A
  connection over it is not closed: its next message is decoded once the bucket is
  out of debt, so that a client that sends a large image now and then is only slowed,
  while one that sends them back to back is held to the rate (the socket's flow
  control makes it wait). Audio is charged at least `AUDIO_BYTES_PER_SECOND` a second
  of it, which holds a connection to four times real time.

The buckets belong to the key, not to the connection: when a connection ends, its
buckets are kept (`RateBook`), and the key's next connection takes them up where they
were. A client that reconnects to get a full bucket (a flood closed, a large message
sent again, a costly setup over and over) gets the one it emptied.

No I/O: the clock is passed in, and `InputRate.owed` says how long to wait.
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
    "AUDIO_BYTES_PER_SECOND",
    "DECODE_BYTES_PER_SECOND",
    "InputRate",
    "RateBook",
    "UNLIMITED",
    "RateSettings",
    "rate_reason",
]


DECODE_BYTES_PER_SECOND = 20e6
"""What a second of decoding is charged as, in bytes. Base64 media decodes at over
100 MB a second and real-time audio at over 5 MB, so both are charged their size; a
message of many small values, which decodes far slower for its size, is charged its
time instead. At the default 1 MiB a second, a connection takes at most 5 % of the
event loop for decoding."""


AUDIO_BYTES_PER_SECOND = 256 * 1024
"""What a second of input audio is charged as, in bytes: at the default 1 MiB a second,
a connection may stream audio at up to four times real time on average (recordings
sent faster than they play are slowed to that, not refused). Every second of audio is
scored by the VAD and may be transcribed, on the cores all sessions share."""


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


MAX_KEYS = 4096
"""Keys whose buckets a `RateBook` keeps at most (the oldest kept are dropped first)."""


class _Bucket:
    def __init__(self, rate: float, size: float, now: float) -> None:
        self.rate, self.size = rate, size
        self.level = size
        self._last = now

    def refill(self, now: float) -> None:
        self.level = min(self.size, self.level + (now - self._last) * self.rate)
        self._last = now

    def owed(self) -> float:
        """Seconds until the bucket is out of debt (0.0 when it is not in debt)."""
        return max(0.0, -self.level / self.rate)


class InputRate:
    def __init__(self, settings: RateSettings, now: float) -> None:
        self.settings = settings
        messages, nbytes = settings.messages_per_second, settings.bytes_per_second
        self._messages = _Bucket(messages, 2 * messages, now) if messages else None
        self._bytes = _Bucket(nbytes, max(settings.burst_bytes, nbytes), now) if nbytes else None

    def admit(self, now: float) -> None:
        """Count one message that arrived at `now` (monotonic seconds); raise
        `ResourceExhausted` when it is over the message rate."""
        if self._messages is not None:
            self._messages.refill(now)
            if self._messages.level < 1:
                assert self.settings.messages_per_second is not None
                raise ResourceExhausted(rate_reason(self.settings.messages_per_second))
            self._messages.level -= 1

    def owed(self, now: float) -> float:
        """Seconds until the byte bucket is out of debt (0.0 when it is not in debt)."""
        if self._bytes is None:
            return 0.0
        self._bytes.refill(now)
        return self._bytes.owed()

    def charge(self, size: int, seconds: float, now: float, audio: float = 0.0) -> float:
        """Charge a message of `size` bytes that took `seconds` to decode and holds
        `audio` seconds of audio: its size, its decoding time at
        `DECODE_BYTES_PER_SECOND` or its audio at `AUDIO_BYTES_PER_SECOND`, whichever is
        most. Returns the seconds to wait before reading the next message (0.0: none)."""
        if self._bytes is None:
            return 0.0
        bucket = self._bytes
        bucket.refill(now)
        cost = max(size, seconds * DECODE_BYTES_PER_SECOND, audio * AUDIO_BYTES_PER_SECOND)
        bucket.level -= cost  # may go below zero: the debt is paid before the next message
        return bucket.owed()


class RateBook:
    """The buckets of the connections that ended, by key, for the key's next ones."""

    def __init__(self, settings: RateSettings) -> None:
        self.settings = settings
        self._kept: dict[str, list[InputRate]] = {}

    def take(self, key: str, now: float) -> InputRate:
        """The buckets for a new connection on `key`: one its last connections left,
        else full ones."""
        kept = self._kept.get(key)
        if not kept:
            return InputRate(self.settings, now)
        rate = kept.pop()
        if not kept:
            del self._kept[key]
        return rate

    def give_back(self, key: str, rate: InputRate) -> None:
        """Keep a connection's buckets once it has ended."""
        self._kept.setdefault(key, []).append(rate)
        self._kept[key] = self._kept.pop(key)  # the newest last
        while len(self._kept) > MAX_KEYS:
            del self._kept[next(iter(self._kept))]
