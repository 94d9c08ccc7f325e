"""Ephemeral tokens at the server: creating them, and admitting the sessions that
present one.

The rules are in `protocol/tokens.py` and the records in the store. A session on a
token goes through three checks:

1. When the socket opens (`Tokens.admit`): the token must exist and not have expired.
2. At `setup` (`TokenSession.setup`, called by the session runner): a new session takes
   one use, if `newSessionExpireTime` has not passed and a use is left; a session that
   resumes a known handle takes none. The token's locks are applied to the setup.
3. While it runs: at `expireTime` the server closes the session (`TokenSession.expire_time`;
   the app holds the deadline).

Refusals carry the hosted service's close codes and reasons where they are known.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from ..protocol.errors import CredentialExpired, PermissionDenied, ResourceExhausted
from ..protocol.events import ContextUpdated
from ..protocol.messages import Setup
from ..protocol.tokens import TOKEN_PREFIX, Constraints, parse_create_request
from .auth import key_fingerprint
from .store import TOKEN_RETENTION, Store, TokenRecord, TokenUse

__all__ = [
    "TokenSession",
    "Tokens",
]

INVALID_TOKEN_REASON = "Token is not valid."
EXPIRED_REASON = "Token has expired"
NEW_SESSIONS_CLOSED_REASON = "Token has expired for new sessions"
USED_UP_REASON = "Token has been used too many times"


class Tokens:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.time,
        creator_valid: Callable[[str], bool] = lambda fingerprint: True,
    ) -> None:
        """`creator_valid`: whether a token made by the key of this fingerprint is still
        good (`KeyChecker.made_by_a_key`): a token is bound to the key that made it."""
        self._store = store
        self._clock = clock
        self._creator_valid = creator_valid

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    async def create(self, body: object, creator_key: str) -> str:
        """Create a token from a `POST .../auth_tokens` body; its name.

        Raises `InvalidArgument` when the body is not a valid request.
        """
        now = self._clock()
        grant = parse_create_request(body, now)
        name = TOKEN_PREFIX + secrets.token_hex(32)
        setup, mask = grant.constraints.encode()
        record = TokenRecord(
            uses_left=grant.uses,
            expire_time=grant.expire_time,
            new_session_expire_time=grant.new_session_expire_time,
            setup=setup,
            field_mask=mask,
            creator=key_fingerprint(creator_key),
            created=now,
        )
        await self._store.add_token(name, record)
        await self._store.purge(now - TOKEN_RETENTION)
        return name

    async def admit(self, name: str) -> TokenSession:
        """Check a token presented on `...Constrained` as the socket opens.

        Raises `PermissionDenied` (1008) for an unknown token and `CredentialExpired`
        (1011) for an expired one.
        """
        record = await self._store.get_token(name)
        if record is None or not self._creator_valid(record.creator):
            raise PermissionDenied(INVALID_TOKEN_REASON)  # a revoked key's, as unknown
        if record.expire_time <= self._clock():
            raise CredentialExpired(EXPIRED_REASON)
        return TokenSession(self._store, self._clock, name, record)


class TokenSession:
    """One session admitted on a token: the `SessionGuard` its runner consults."""

    def __init__(
        self, store: Store, clock: Callable[[], float], name: str, record: TokenRecord
    ) -> None:
        self._store = store
        self._clock = clock
        self._name = name
        self.expire_time = record.expire_time
        """Unix seconds at which the session must close."""
        self.creator = record.creator
        """The fingerprint of the key that made the token."""
        self._constraints = Constraints.decode(record.setup, record.field_mask)

    async def setup(self, setup: Setup) -> Setup:
        effective = self._constraints.apply(setup)
        resumption = effective.session_resumption
        handle = resumption.handle if resumption is not None else None
        now = self._clock()
        if handle and await self._store.get_handle(handle, now) is not None:
            # Resuming a session takes no use and ignores newSessionExpireTime.
            record = await self._store.get_token(self._name)
            if record is None:
                raise PermissionDenied(INVALID_TOKEN_REASON)
            if record.expire_time <= now:
                raise CredentialExpired(EXPIRED_REASON)
            return effective
        match await self._store.use_token(self._name, now):
            case TokenUse.GRANTED:
                return effective
            case TokenUse.UNKNOWN:
                raise PermissionDenied(INVALID_TOKEN_REASON)
            case TokenUse.EXPIRED:
                raise CredentialExpired(EXPIRED_REASON)
            case TokenUse.NEW_SESSIONS_CLOSED:
                raise CredentialExpired(NEW_SESSIONS_CLOSED_REASON)
            case TokenUse.USED_UP:
                raise ResourceExhausted(USED_UP_REASON)

    def context_update(self, event: ContextUpdated) -> ContextUpdated:
        return self._constraints.context_update(event)
