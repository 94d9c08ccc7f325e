"""Errors of the Live protocol, and how each is reported: a WebSocket close code and reason.

The Live API reports every error by closing the WebSocket (PROTOCOL.md §7)::

    LiveError                  close code, reason (at most 123 bytes)
    ├── InvalidArgument        1007  malformed input, unsupported field or value
    ├── NotFound               1008  unknown model, handle or entity
    ├── PermissionDenied       1008  missing or wrong credentials
    ├── InternalError          1011  a failure on our side
    ├── ResourceExhausted      1011  an ephemeral token's uses are spent; the node is full
    ├── Unavailable            1011  the node is stopping; its state store or an engine is down
    ├── CredentialExpired      1011  an ephemeral token has expired (at connect)
    ├── TokenExpiredInSession  1011  a token's session reached the token's expireTime
    ├── ConnectionDeadline     1011  the connection or session reached its time limit
    └── ServerStopping         1012  the node shut down; resume elsewhere or on its restart

Every close the server makes is one of these; 1009 (a message over
`--max-message-bytes`) alone is made by the WebSocket layer, before any message is read.

The reasons follow google.rpc wording where the hosted service's is known. The hosted
service closes with 1011, not 1008, when an ephemeral token is spent or expired.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CAPACITY_REASON",
    "DEADLINE_REASON",
    "MAX_REASON_BYTES",
    "InternalError",
    "CredentialExpired",
    "InvalidArgument",
    "LiveError",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "ConnectionDeadline",
    "ServerStopping",
    "TokenExpiredInSession",
    "Unavailable",
    "truncate_reason",
]

MAX_REASON_BYTES = 123
"""A WebSocket close reason is limited to 123 bytes of UTF-8 (RFC 6455 §5.5)."""


def truncate_reason(reason: str) -> str:
    """Cut a reason to fit a close frame, on a character boundary."""
    data = reason.encode("utf-8")
    if len(data) <= MAX_REASON_BYTES:
        return reason
    cut = data[: MAX_REASON_BYTES - 3].decode("utf-8", errors="ignore")
    return cut + "..."


class LiveError(Exception):
    """An error reported to the client by closing the connection."""

    code: ClassVar[int] = 1011
    default_reason: ClassVar[str] = "Internal error encountered."

    def __init__(self, reason: str | None = None) -> None:
        self.reason = truncate_reason(reason or self.default_reason)
        super().__init__(self.reason)


class InvalidArgument(LiveError):
    code = 1007
    default_reason = "Request contains an invalid argument."


class NotFound(LiveError):
    code = 1008
    default_reason = "Requested entity was not found."


class PermissionDenied(LiveError):
    code = 1008
    default_reason = "The caller does not have permission."


class InternalError(LiveError):
    code = 1011
    default_reason = "Internal error encountered."


class ResourceExhausted(LiveError):
    code = 1011
    default_reason = "Resource has been exhausted."


class Unavailable(LiveError):
    """Retry later, or elsewhere: nothing was wrong with the request.

    The client is told only that the service is unavailable; `detail` (what is down,
    and why) is `str()`, for the log."""

    code = 1011
    default_reason = "The service is currently unavailable."

    def __init__(self, detail: str = "") -> None:
        super().__init__()
        self.detail = detail

    def __str__(self) -> str:
        return self.detail or self.reason


CAPACITY_REASON = "RESOURCE_EXHAUSTED: Maximum concurrent sessions exceeded."
"""The hosted service's close reason (with code 1011) for a session over its concurrent
session limit, as clients have recorded it."""


class CredentialExpired(LiveError):
    code = 1011
    default_reason = "Token has expired"


class TokenExpiredInSession(LiveError):
    """A session admitted on an ephemeral token reached the token's `expireTime`."""

    code = 1011
    default_reason = "auth token has expired"


DEADLINE_REASON = "Deadline expired before operation could complete."
"""The hosted service's reason (with 1011) when a connection reaches its time limit."""


class ConnectionDeadline(LiveError):
    """The connection reached its time limit (after a `goAway`)."""

    code = 1011
    default_reason = DEADLINE_REASON


class ServerStopping(LiveError):
    """The server is shutting down; the session can be resumed on its restart."""

    code = 1012
    default_reason = "The server is restarting; resume the session with its last handle."
