"""Who may open a session: credentials from every place the SDKs put them.

Python sends `x-goog-api-key`; JavaScript sends `?key=`; ephemeral tokens come as
`Authorization: Token ...` or `?access_token=`; Vertex-style clients send
`Authorization: Bearer ...` (PROTOCOL.md §1.4). With keys configured, only those are
accepted. Without, any non-empty key is accepted: `serve` allows that only on loopback.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..protocol.errors import PermissionDenied

__all__ = ["Credential", "KeyChecker", "find_credential"]

MISSING_REASON = (
    "Method doesn't allow unregistered callers. Please use API Key or other form "
    "of API consumer identity to call this API."
)
INVALID_REASON = "API key not valid. Please pass a valid API key."


@dataclass(frozen=True, slots=True)
class Credential:
    kind: str
    """"key", "token" (ephemeral) or "bearer"."""
    value: str


def find_credential(headers: Mapping[str, str], query: Mapping[str, str]) -> Credential | None:
    """The first credential present, in the order PROTOCOL.md §1.4 gives."""
    if value := headers.get("x-goog-api-key", "").strip():
        return Credential("key", value)
    if value := query.get("key", "").strip():
        return Credential("key", value)
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "token" and value.strip():
        return Credential("token", value.strip())
    if value := query.get("access_token", "").strip():
        return Credential("token", value)
    if scheme.lower() == "bearer" and value.strip():
        return Credential("bearer", value.strip())
    return None


class KeyChecker:
    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode() for k in keys if k)

    @property
    def open(self) -> bool:
        """True when any non-empty key is accepted."""
        return not self._keys

    def check(self, credential: Credential | None) -> None:
        """Raise `PermissionDenied` unless the credential is acceptable."""
        if credential is None:
            raise PermissionDenied(MISSING_REASON)
        if self.open:
            return
        given = credential.value.encode()
        if not any(hmac.compare_digest(given, key) for key in self._keys):
            raise PermissionDenied(INVALID_REASON)
