"""The session's way to its client: a bounded queue of server messages, drained to the
socket by one task of the session's group."""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..protocol import codec
from ..protocol.messages import ServerMessage

__all__ = ["FLUSH_TIMEOUT", "OUTBOX_SIZE", "ClientGone", "Outbox", "Transport"]

OUTBOX_SIZE = 64
"""Server messages waiting for the socket. Small on purpose: a full outbox makes the
response wait, so a slow client slows its own answer instead of filling memory. (A
backend that shares one model between sessions, like the embedded one, does not hold
the model for a slow reader: it finishes the reply into a buffer bounded by
maxOutputTokens.)"""

FLUSH_TIMEOUT = 2.0
"""Seconds given to sending what is queued before an error closes the session."""


class Transport(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next client frame, or None once the client has gone."""

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class ClientGone(Exception):
    """The client closed the connection; ends the session quietly."""


class Outbox:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._queue: asyncio.Queue[ServerMessage] = asyncio.Queue(OUTBOX_SIZE)

    async def put(self, message: ServerMessage) -> None:
        """Queue one message; waits while the outbox is full."""
        await self._queue.put(message)

    async def run(self) -> None:
        """Send each message as it comes, until cancelled."""
        while True:
            message = await self._queue.get()
            await self._transport.send(codec.encode(message))

    async def flush(self) -> None:
        """Send what is still queued (within `FLUSH_TIMEOUT`), so that nothing before
        an error is lost."""
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                while not self._queue.empty():
                    await self._transport.send(codec.encode(self._queue.get_nowait()))
        except (TimeoutError, ClientGone):
            pass
