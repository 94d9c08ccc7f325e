"""How a connection ends on the server's side: its time limits, and the server stopping.

`Lifetime.run` is one task of the session's task group. It waits for whichever comes
first:

- **a time limit**: the connection's (`ConnectionLimits.limit` seconds after it began),
  or the session's, which the runner sets once it knows the session: without context
  window compression, a session may last `ConnectionLimits.session` seconds in all (15
  minutes), or `video_session` (2 minutes) once it has been sent video, counted across
  the connections that resume it, as the hosted service limits sessions. `goAway` is
  sent `go_away_before` seconds ahead, with the time left; at the limit, an answer still
  in progress is interrupted (the history keeps what was sent), what can be resumed is
  saved, and the connection closes with 1011 "Deadline expired before operation could
  complete.", as the hosted service closes it;
- **the server stopping** (`stop(grace)`): `goAway` with `timeLeft` = `grace`; a
  turn in progress has until then to finish; then what can be resumed is saved and
  the connection closes with 1012.

Either way it ends by raising a `LiveError`, which ends the session's task group.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..protocol.errors import ConnectionDeadline, ServerStopping
from ..protocol.messages import ServerMessage
from ..protocol.resumption import go_away
from .input_rate import UNLIMITED, RateSettings

__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_GO_AWAY_BEFORE",
    "DEFAULT_SESSION_LIMIT",
    "DEFAULT_VIDEO_SESSION_LIMIT",
    "ConnectionLimits",
    "Lifetime",
]

DEFAULT_CONNECTION_LIMIT = 600.0
"""Seconds a connection may last: the hosted service's 10 minutes."""

DEFAULT_GO_AWAY_BEFORE = 50.0
"""Seconds between `goAway` and the end of the connection (the hosted service was seen
sending `timeLeft: "50s"`)."""


DEFAULT_SESSION_LIMIT = 900.0
"""Seconds an audio (or text) session may last without context window compression."""

DEFAULT_VIDEO_SESSION_LIMIT = 120.0
"""Seconds a session that has been sent video may last without compression."""

DEFAULT_SETUP_TIMEOUT = 10.0
"""Seconds a connection has to send `setup` (the SDKs send it at once); a connection
that sends nothing would otherwise hold a session slot until the connection limit."""


SEND_TIMEOUT = 5.0
"""Seconds given to queueing `goAway`, and to saving, when the client does not read:
the connection ends on time even if its outbox is full."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    limit: float | None = DEFAULT_CONNECTION_LIMIT
    """Seconds a connection may last; None for no limit."""
    go_away_before: float = DEFAULT_GO_AWAY_BEFORE
    session: float | None = DEFAULT_SESSION_LIMIT
    """Seconds a session without compression may last, across connections; None: no limit."""
    video_session: float | None = DEFAULT_VIDEO_SESSION_LIMIT
    """The same, once the session has been sent video."""
    setup: float | None = DEFAULT_SETUP_TIMEOUT
    """Seconds allowed before `setup` arrives; None: no limit."""
    rate: RateSettings = UNLIMITED
    """How fast the client may send (`input_rate.py`)."""


class Lifetime:
    def __init__(
        self,
        limits: ConnectionLimits,
        send: Callable[[ServerMessage], Awaitable[None]],
        idle: asyncio.Event,
        save: Callable[[], Awaitable[None]],
    ) -> None:
        """`idle` is set while no model turn runs or waits to run; `save` interrupts
        what runs and saves a resumable snapshot."""
        self._limits = limits
        self._send = send
        self._idle = idle
        self._save = save
        self._stop = asyncio.Event()
        self._grace = 0.0
        self._started = time.monotonic()
        self._before = 0.0
        limit = limits.limit
        self._deadline = self._started + limit if limit is not None else math.inf
        """When the connection ends (monotonic clock), the earliest of its limits."""
        self._changed = asyncio.Event()
        self._compressed = True
        """Until the session is known to have no compression, its own limits wait."""
        self.video_seen = False
        """Whether the session has been sent video (resumed sessions included)."""

    def stop(self, grace: float) -> None:
        """The server is stopping: end the connection within `grace` seconds."""
        self._grace = max(0.0, grace)
        self._stop.set()

    def resumed(self, elapsed: float) -> None:
        """The session had lasted `elapsed` seconds on earlier connections."""
        self._before = max(0.0, elapsed)

    @property
    def elapsed(self) -> float:
        """Seconds the session has lasted, earlier connections included."""
        return self._before + time.monotonic() - self._started

    @property
    def setup_timeout(self) -> float | None:
        """Seconds allowed before `setup` arrives."""
        return self._limits.setup

    def uncompressed(self) -> None:
        """The session has no context window compression: it is limited in time."""
        self._compressed = False
        self._limit_session(self._limits.session)

    def saw_video(self) -> None:
        """The session has been sent video: without compression, it ends sooner."""
        self.video_seen = True
        if not self._compressed:
            self._limit_session(self._limits.video_session)

    def _limit_session(self, seconds: float | None) -> None:
        """The session may last `seconds` in all (None: no limit): the connection ends
        then, if that comes before its own limit."""
        if seconds is None:
            return
        deadline = self._started - self._before + seconds
        if deadline < self._deadline:
            self._deadline = deadline
            self._changed.set()

    async def run(self) -> None:
        warned = False
        while not self._stop.is_set():
            left = self._deadline - time.monotonic()
            if left <= 0:
                if not warned:
                    await _bounded(self._send(go_away(0.0)))
                await _bounded(self._save())
                raise ConnectionDeadline()
            before = self._limits.go_away_before
            if not warned and left <= before:
                # The timer wakes a hair early: say "50s", not "49.999s".
                await _bounded(self._send(go_away(min(before, math.ceil(left * 10) / 10))))
                warned = True
            self._changed.clear()
            wait = left if warned else left - before
            if math.isfinite(wait):
                await _wait_any(self._stop, self._changed, wait)
            else:
                await _wait_any(self._stop, self._changed, None)
        await _bounded(self._send(go_away(self._grace)))
        await _wait(self._idle, self._grace)
        await _bounded(self._save())
        raise ServerStopping()


async def _bounded(step: Awaitable[None]) -> None:
    try:
        async with asyncio.timeout(SEND_TIMEOUT):
            await step
    except TimeoutError:
        pass


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for `event` at most `seconds`; whether it was set."""
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def _wait_any(a: asyncio.Event, b: asyncio.Event, seconds: float | None) -> None:
    """Wait until `a` or `b` is set, at most `seconds` (None: no limit)."""
    waiters = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(
            waiters,
            timeout=None if seconds is None else max(0.0, seconds),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
