"""Session resumption for one session: handles, snapshots, and the updates the client is
sent.

`Resumption` is what the runner calls at the points where the session's state changes:

- `load(handle)` at a setup that resumes: the snapshot the handle stands for, or a
  1007 if there is none (unknown, expired, or unreadable), or a 1011 "unavailable" if
  the store cannot be reached (the client may retry: the handle is still good);
- `start(setup)` once the setup is accepted: from then on, if the setup asked for
  `sessionResumption`, the session sends `sessionResumptionUpdate` messages;
- `checkpoint(snapshot)` whenever the session can be resumed (after `setupComplete`,
  after each model turn): the snapshot is written to the store under a new handle,
  committed, and only then is the handle sent (none while the store is unavailable:
  the session itself goes on);
- `busy()` when a model turn begins: `{"resumable": false}`, once, until the next
  checkpoint;
- `ended()` when the connection ends: its last handle then has `ttl` seconds to live.

A client whose connection drops holds the last handle that reached it, which may be
older than the last one sent: updates still in flight are lost with the connection.
So each session keeps in the store its newest two handles, and every older one for
`IN_FLIGHT` seconds after it was superseded (at most `MAX_KEPT` in all); a handle is
deleted only once no client can still be holding it as its newest. The handle a session
resumed from counts as one of them.

`snapshot_of` and `restore` convert between the pipeline's chat messages and pending
calls and the stored layout (`protocol.resumption`). Images in the history (user turns
of a model that can see) are not stored: a resumed session keeps their turns' text.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..backends.base import ChatMessage, FunctionCall, FunctionResult
from ..protocol.errors import InvalidArgument, Unavailable
from ..protocol.messages import Content, ServerMessage, Setup, Tool
from ..protocol.resumption import (
    INVALID_HANDLE_REASON,
    CallRecord,
    HistoryEntry,
    PendingCallRecord,
    ResultRecord,
    Snapshot,
    SnapshotError,
    not_resumable,
    resumable,
    storable_setup,
)

__all__ = [
    "DEFAULT_HANDLE_TTL",
    "HandleStore",
    "Resumption",
    "ResumptionSettings",
    "restore",
    "snapshot_of",
]

log = logging.getLogger(__name__)

DEFAULT_HANDLE_TTL = 2 * 3600.0
"""Seconds a handle stays valid after its session ends (the hosted service's 2 hours)."""

KEPT_HANDLES = 2
"""Handles a session always keeps in the store: the newest and the one before."""

IN_FLIGHT = 60.0
"""Seconds an older handle is kept after a newer one was sent: longer than a dropped
connection takes to be noticed (the server's keepalive pings time out after 40 s), so
that the newest handle a client received is still in the store when it resumes."""

MAX_KEPT = 16
"""At most this many handles per session, however fast its turns go."""


class StoredHandle(Protocol):
    @property
    def snapshot(self) -> str: ...


class HandleStore(Protocol):
    """The part of the server's store that resumption uses."""

    async def put_handle(self, handle: str, snapshot: str, expires: float, now: float) -> None: ...

    async def get_handle(self, handle: str, now: float) -> StoredHandle | None: ...

    async def delete_handle(self, handle: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class ResumptionSettings:
    store: HandleStore
    ttl: float = DEFAULT_HANDLE_TTL
    """Seconds a handle stays valid after the end of its session."""
    clock: Callable[[], float] = field(default=time.time)


class Resumption:
    def __init__(
        self,
        settings: ResumptionSettings | None,
        send: Callable[[ServerMessage], Awaitable[None]],
        owner: str = "",
    ) -> None:
        """`owner`: a fingerprint of the session's credential; its handles can be resumed
        only on the same one."""
        self._settings = settings
        self._send = send
        self._owner = owner
        self._setup: Setup | None = None
        """The effective setup, kept up to date with context updates; None until the
        session asked for resumption."""
        self._transparent = False
        self._handles: deque[tuple[str, str, float]] = deque()
        """(handle, snapshot JSON, when it was issued) of this session, oldest first."""
        self._resumable = False
        """What the client was last told."""

    @property
    def enabled(self) -> bool:
        return self._setup is not None

    @property
    def setup(self) -> Setup | None:
        return self._setup

    async def load(self, handle: str) -> Snapshot:
        """The snapshot of `handle`; `InvalidArgument` if it cannot be resumed."""
        if self._settings is None:
            raise InvalidArgument(INVALID_HANDLE_REASON)
        now = self._settings.clock()
        record = await self._settings.store.get_handle(handle, now)
        if record is None:
            raise InvalidArgument(INVALID_HANDLE_REASON)
        try:
            snapshot = Snapshot.decode(record.snapshot)
        except SnapshotError as exc:
            log.warning("cannot resume from a stored snapshot: %s", exc)
            raise InvalidArgument(INVALID_HANDLE_REASON) from exc
        if snapshot.owner and snapshot.owner != self._owner:
            # Another credential's handle: refused as if unknown, which tells nothing.
            raise InvalidArgument(INVALID_HANDLE_REASON)
        self._handles.append((handle, record.snapshot, now))
        return snapshot

    def start(self, setup: Setup) -> None:
        """The setup is accepted; updates begin if it asked for them."""
        if setup.session_resumption is None or self._settings is None:
            return
        self._setup = storable_setup(setup)
        self._transparent = bool(setup.session_resumption.transparent)

    def context_updated(
        self, system_instruction: Content | None, tools: Sequence[Tool] | None
    ) -> None:
        """Keep a `contextUpdate` in the setup that snapshots carry."""
        if self._setup is None:
            return
        changes: dict[str, object] = {}
        if system_instruction is not None:
            changes["system_instruction"] = system_instruction
        if tools is not None:
            changes["tools"] = list(tools)
        self._setup = self._setup.model_copy(update=changes)

    async def busy(self) -> None:
        """A model turn begins: the session cannot be resumed until it ends."""
        if self._setup is not None and self._resumable:
            self._resumable = False
            await self._send(not_resumable())

    async def checkpoint(self, snapshot: Snapshot) -> None:
        """Store `snapshot` under a new handle, then send the handle.

        While the store is unavailable no handle is sent: the session goes on, and the
        client keeps the last handle that was stored."""
        if self._setup is None or self._settings is None:
            return
        store, now = self._settings.store, self._settings.clock()
        handle = secrets.token_urlsafe(32)
        text = replace(snapshot, owner=self._owner).encode()
        try:
            await store.put_handle(handle, text, now + self._settings.ttl, now)
        except Unavailable:
            log.warning("no resumption handle this turn: the store is unavailable")
            return
        self._handles.append((handle, text, now))
        await self._forget_old(now)
        self._resumable = True
        index = snapshot.last_consumed_client_message_index if self._transparent else None
        await self._send(resumable(handle, index))

    async def ended(self) -> None:
        """The connection is over: its handles live `ttl` seconds from now."""
        if self._settings is None or not self._handles:
            return
        now = self._settings.clock()
        await self._forget_old(now)
        try:
            for handle, text, _ in self._handles:
                await self._settings.store.put_handle(handle, text, now + self._settings.ttl, now)
        except Unavailable:
            log.warning("the session's handles keep their earlier expiry: the store is unavailable")

    async def _forget_old(self, now: float) -> None:
        """Delete the handles no client can hold as its newest any more: beyond the
        newest `KEPT_HANDLES`, those superseded over `IN_FLIGHT` seconds ago, and any
        beyond `MAX_KEPT`."""
        assert self._settings is not None
        handles = self._handles
        while len(handles) > KEPT_HANDLES and (
            len(handles) > MAX_KEPT or handles[1][2] <= now - IN_FLIGHT
        ):
            old, _, _ = handles.popleft()
            try:
                await self._settings.store.delete_handle(old)
            except Unavailable:
                pass  # it expires by itself


# --- conversions -------------------------------------------------------------------


def _call_record(call: FunctionCall) -> CallRecord:
    return CallRecord(call.id, call.name, dict(call.args))


def _call(record: CallRecord) -> FunctionCall:
    return FunctionCall(record.name, dict(record.args), record.id)


def snapshot_of(
    setup: Setup,
    turns: Sequence[ChatMessage],
    pending: Sequence[tuple[FunctionCall, bool]],
    last_consumed: int,
    *,
    elapsed: float = 0.0,
    video: bool = False,
    session_id: str = "",
) -> Snapshot:
    history = tuple(
        HistoryEntry(
            m.role,
            m.content,
            tuple(_call_record(c) for c in m.calls),
            None
            if m.result is None
            else ResultRecord(m.result.id, m.result.name, dict(m.result.response)),
        )
        for m in turns
        if m.role != "system"
    )
    return Snapshot(
        setup=setup,
        history=history,
        pending=tuple(PendingCallRecord(_call_record(c), b) for c, b in pending),
        last_consumed_client_message_index=max(0, last_consumed),
        elapsed=elapsed,
        video=video,
        session_id=session_id,
    )


def restore(snapshot: Snapshot) -> tuple[list[ChatMessage], list[tuple[FunctionCall, bool]]]:
    """The history and the pending calls of a snapshot, as the pipeline keeps them.

    A resumed call is never BLOCKING: no model turn is waiting for it on the new
    connection, so its answer is taken as a NON_BLOCKING one (WHEN_IDLE unless it says
    otherwise)."""
    turns = [
        ChatMessage(
            e.role,  # type: ignore[arg-type]  # checked by Snapshot.decode
            e.text,
            calls=tuple(_call(c) for c in e.calls),
            result=None
            if e.result is None
            else FunctionResult(e.result.id, e.result.name, dict(e.result.response)),
        )
        for e in snapshot.history
    ]
    return turns, [(_call(p.call), False) for p in snapshot.pending]
