"""Who may open a session: credentials from every place the SDKs put them.

Python sends `x-goog-api-key`; JavaScript sends `?key=`; ephemeral tokens come as
`Authorization: Token ...` or `?access_token=`; Vertex-style clients send
`Authorization: Bearer ...` (PROTOCOL.md §1.4). With keys configured, only those are
accepted. Without, any non-empty key is accepted: `serve` allows that only on loopback.

An ephemeral token is never a key: it is accepted only on `...Constrained`, where
`find_token` finds it and `server/tokens.py` checks it. Anywhere else, or in a key's
place, a token is refused even when any key would pass.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..protocol.errors import PermissionDenied
from ..protocol.tokens import TOKEN_PREFIX

__all__ = ["Credential", "KeyChecker", "find_credential", "find_token", "key_fingerprint"]

MISSING_REASON = (
    "Method doesn't allow unregistered callers. Please use API Key or other form "
    "of API consumer identity to call this API."
)
INVALID_REASON = "API key not valid. Please pass a valid API key."
TOKEN_HERE_REASON = (
    "Ephemeral tokens are accepted only on BidiGenerateContentConstrained, "
    "as access_token or Authorization: Token."
)


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
    scheme, _, given = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "token" and given.strip():
        return Credential("token", given.strip())
    if value := query.get("access_token", "").strip():
        return Credential("token", value)
    if scheme.lower() == "bearer" and given.strip():
        return Credential("bearer", given.strip())
    return None


def find_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """An ephemeral token, from `Authorization: Token <t>` or `?access_token=`."""
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    return query.get("access_token", "").strip() or None


def key_fingerprint(key: str) -> str:
    """Who holds a credential, without keeping it: what tokens and resumption handles
    record of the key (or token) that made them."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class KeyChecker:
    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode() for k in keys if k)

    @property
    def open(self) -> bool:
        """True when any non-empty key is accepted."""
        return not self._keys

    def made_by_a_key(self, fingerprint: str) -> bool:
        """Whether a token whose creator has this fingerprint (`key_fingerprint`) was
        made by a key still accepted: removing a key revokes its tokens."""
        if self.open:
            return True
        return any(
            hmac.compare_digest(key_fingerprint(key.decode()), fingerprint) for key in self._keys
        )

    def check(self, credential: Credential | None) -> None:
        """Raise `PermissionDenied` unless the credential is acceptable."""
        if credential is None:
            raise PermissionDenied(MISSING_REASON)
        if credential.kind == "token" or credential.value.startswith(TOKEN_PREFIX):
            raise PermissionDenied(TOKEN_HERE_REASON)
        if self.open:
            return
        given = credential.value.encode()
        if not any(hmac.compare_digest(given, key) for key in self._keys):
            raise PermissionDenied(INVALID_REASON)
