"""Session resumption and goAway as data: the snapshot a handle stands for, how a
resuming setup combines with the one it resumes, and the server messages involved.

A **snapshot** is what a new connection needs to continue a session: the effective
setup (after an ephemeral token's locks, with the system instruction and tools of any
`contextUpdate` since), the conversation history, the NON_BLOCKING calls still waiting
for an answer, the index of the last client message whose effect it holds, and the
session's id (`setupComplete.sessionId`, which the resumed session keeps). It is
plain JSON with a version number, so that a store can keep it across restarts and a
newer server can refuse (or later convert) an older layout.

The history is kept in a layout of its own (`HistoryEntry`), not as the pipeline's
chat messages: this module imports nothing above `protocol/`.

**Resuming.** A setup with `sessionResumption.handle` continues the snapshot's session.
Only the model may not change (the hosted documentation: "config parameters other than
the model may change on resume"). Each top-level field the new setup sets replaces the
snapshot's; a field it leaves out keeps the snapshot's value, so a client that sends
its usual config gets that config, and one that sends only the model and the handle
gets the old session's config.

Nothing here awaits or touches a file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument
from .messages import GoAway, ServerMessage, SessionResumptionConfig, SessionResumptionUpdate, Setup

__all__ = [
    "INVALID_HANDLE_REASON",
    "SNAPSHOT_VERSION",
    "CallRecord",
    "HistoryEntry",
    "PendingCallRecord",
    "ResultRecord",
    "Snapshot",
    "SnapshotError",
    "duration",
    "go_away",
    "not_resumable",
    "resumable",
    "resumed_setup",
    "storable_setup",
]

SNAPSHOT_VERSION = 1
"""The layout of `Snapshot.encode`; bumped whenever a field changes meaning."""

INVALID_HANDLE_REASON = "Session resumption handle is invalid or has expired."
"""The close reason (with 1007) for an unknown, expired or unreadable handle. The hosted
service's wording is not known (docs/protocol.md, "Session resumption")."""


class SnapshotError(ValueError):
    """A stored snapshot that this server cannot read."""


# --- the snapshot ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A function call the model made, as kept in the history."""

    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A function's result, as kept in the history."""

    id: str
    name: str
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One message of the conversation: `user`, `assistant` or `tool`."""

    role: str
    text: str
    calls: tuple[CallRecord, ...] = ()
    result: ResultRecord | None = None


@dataclass(frozen=True, slots=True)
class PendingCallRecord:
    """A call sent to the client and not answered yet."""

    call: CallRecord
    blocking: bool


_ROLES = ("user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Snapshot:
    setup: Setup
    """The effective setup, without a resumption handle."""
    history: tuple[HistoryEntry, ...] = ()
    pending: tuple[PendingCallRecord, ...] = ()
    last_consumed_client_message_index: int = 0
    """Of the connection that took the snapshot; its setup is message 0."""
    elapsed: float = 0.0
    """Seconds the session had lasted, over all its connections (for its time limit)."""
    video: bool = False
    """Whether the session had been sent video (which shortens its time limit)."""
    owner: str = ""
    """A fingerprint of the credential of the session that took it: only a session on
    the same credential may resume it ("": taken before owners were recorded)."""
    session_id: str = ""
    """The session's `setupComplete.sessionId` ("": taken before ids were recorded; the
    resumed session then gets a new one)."""
    version: int = field(default=SNAPSHOT_VERSION)

    def encode(self) -> str:
        """The snapshot as compact JSON."""
        return json.dumps(
            {
                "version": self.version,
                "setup": self.setup.to_wire(),
                "history": [_entry_out(e) for e in self.history],
                "pending": [{**_call_out(p.call), "blocking": p.blocking} for p in self.pending],
                "lastConsumedClientMessageIndex": self.last_consumed_client_message_index,
                "elapsedSeconds": self.elapsed,
                "video": self.video,
                "owner": self.owner,
                "sessionId": self.session_id,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def decode(cls, text: str) -> Snapshot:
        """Read a snapshot written by `encode`; `SnapshotError` if it cannot be read."""
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise SnapshotError("a snapshot is a JSON object")
            version = raw.get("version")
            if version != SNAPSHOT_VERSION:
                raise SnapshotError(f"snapshot version {version!r} is not {SNAPSHOT_VERSION}")
            history = tuple(_entry_in(e) for e in _list(raw.get("history", [])))
            pending = tuple(
                PendingCallRecord(_call_in(p), _bool(p.get("blocking")))
                for p in _list(raw.get("pending", []))
            )
            index = raw.get("lastConsumedClientMessageIndex", 0)
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise SnapshotError("lastConsumedClientMessageIndex must be a count")
            elapsed = raw.get("elapsedSeconds", 0.0)
            if not isinstance(elapsed, int | float) or isinstance(elapsed, bool) or elapsed < 0:
                raise SnapshotError("elapsedSeconds must be a duration")
            video = _bool(raw.get("video", False))
            owner = _str(raw.get("owner", ""))
            session_id = _str(raw.get("sessionId", ""))
            return cls(
                Setup.model_validate(raw["setup"]),
                history,
                pending,
                index,
                float(elapsed),
                video,
                owner=owner,
                session_id=session_id,
            )
        except SnapshotError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SnapshotError(f"unreadable snapshot: {exc}") from exc


def _list(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SnapshotError("expected a list of objects")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise SnapshotError("expected true or false")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise SnapshotError("expected a string")
    return value


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SnapshotError("expected an object")
    return value


def _call_out(call: CallRecord) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "args": call.args}


def _call_in(raw: dict[str, Any]) -> CallRecord:
    return CallRecord(_str(raw.get("id")), _str(raw.get("name")), _object(raw.get("args")))


def _entry_out(entry: HistoryEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"role": entry.role, "text": entry.text}
    if entry.calls:
        out["calls"] = [_call_out(c) for c in entry.calls]
    if entry.result is not None:
        r = entry.result
        out["result"] = {"id": r.id, "name": r.name, "response": r.response}
    return out


def _entry_in(raw: dict[str, Any]) -> HistoryEntry:
    role = _str(raw.get("role"))
    if role not in _ROLES:
        raise SnapshotError(f"unknown role {role!r} in a snapshot")
    result = None
    if (r := raw.get("result")) is not None:
        r = _object(r)
        result = ResultRecord(_str(r.get("id")), _str(r.get("name")), _object(r.get("response")))
    calls = tuple(_call_in(c) for c in _list(raw.get("calls", [])))
    return HistoryEntry(role, _str(raw.get("text")), calls, result)


# --- resuming ----------------------------------------------------------------------


def _model_id(model: str) -> str:
    model = model.strip()
    for prefix in ("models/", "tunedModels/"):
        model = model.removeprefix(prefix)
    return model


def resumed_setup(stored: Setup, new: Setup) -> Setup:
    """The setup of a resumed session: `stored` with each top-level field that `new`
    sets (its resumption config included). Raises `InvalidArgument` if the model
    changes."""
    if _model_id(stored.model) != _model_id(new.model):
        raise InvalidArgument(
            f"A resumed session keeps its model ({_model_id(stored.model)}); "
            f"got {_model_id(new.model) or '(none)'}."
        )
    changes = {name: getattr(new, name) for name in new.model_fields_set if name != "model"}
    return stored.model_copy(update=changes)


def storable_setup(setup: Setup) -> Setup:
    """`setup` as a snapshot keeps it: without the handle it was resumed with."""
    resumption = setup.session_resumption
    if resumption is None or resumption.handle is None:
        return setup
    kept = SessionResumptionConfig(transparent=resumption.transparent)
    return setup.model_copy(update={"session_resumption": kept})


# --- server messages ---------------------------------------------------------------


def resumable(handle: str, last_consumed: int | None = None) -> ServerMessage:
    """`sessionResumptionUpdate` with a new handle; `last_consumed` in transparent mode."""
    return ServerMessage(
        session_resumption_update=SessionResumptionUpdate(
            new_handle=handle, resumable=True, last_consumed_client_message_index=last_consumed
        )
    )


def not_resumable() -> ServerMessage:
    return ServerMessage(session_resumption_update=SessionResumptionUpdate(resumable=False))


def duration(seconds: float) -> str:
    """A `google.protobuf.Duration` in its JSON form: "10s", "0.5s"."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {seconds}")
    whole = round(seconds, 3)
    if whole == int(whole):
        return f"{int(whole)}s"
    return f"{whole:.3f}".rstrip("0") + "s"


def go_away(time_left: float) -> ServerMessage:
    return ServerMessage(go_away=GoAway(time_left=duration(time_left)))
