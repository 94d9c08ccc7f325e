"""How a connection ends on the server's side: its time limit, and the server stopping.

`Lifetime.run` is one task of the session's task group. It waits for whichever comes
first:

- **the time limit** (`ConnectionLimits.limit` seconds after the connection began):
  `goAway` is sent `go_away_before` seconds ahead, with that `timeLeft`; at the limit,
  an answer still in progress is interrupted (the history keeps what was sent), what
  can be resumed is saved, and the connection closes with 1011 "Deadline expired before
  operation could complete.", as the hosted service closes it;
- **the server stopping** (`stop(grace)`): `goAway` with `timeLeft` = `grace`; a
  turn in progress has until then to finish; then what can be resumed is saved and
  the connection closes with 1012.

Either way it ends by raising a `LiveError`, which ends the session's task group.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..protocol.messages import ServerMessage
from ..protocol.resumption import ConnectionDeadline, ServerStopping, go_away

__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_GO_AWAY_BEFORE",
    "ConnectionLimits",
    "Lifetime",
]

DEFAULT_CONNECTION_LIMIT = 600.0
"""Seconds a connection may last: the hosted service's 10 minutes."""

DEFAULT_GO_AWAY_BEFORE = 50.0
"""Seconds between `goAway` and the end of the connection (the hosted service was seen
sending `timeLeft: "50s"`)."""


SEND_TIMEOUT = 5.0
"""Seconds given to queueing `goAway`, and to saving, when the client does not read:
the connection ends on time even if its outbox is full."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    limit: float | None = DEFAULT_CONNECTION_LIMIT
    """Seconds a connection may last; None for no limit."""
    go_away_before: float = DEFAULT_GO_AWAY_BEFORE


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

    def stop(self, grace: float) -> None:
        """The server is stopping: end the connection within `grace` seconds."""
        self._grace = max(0.0, grace)
        self._stop.set()

    async def run(self) -> None:
        limit = self._limits.limit
        if limit is not None and math.isfinite(limit):
            before = min(self._limits.go_away_before, limit)
            if not await _wait(self._stop, limit - before):
                await _bounded(self._send(go_away(before)))
                if not await _wait(self._stop, before):
                    await _bounded(self._save())
                    raise ConnectionDeadline()
        else:
            await self._stop.wait()
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
