"""`Store` in Redis, for nodes that share their tokens and resumption handles.

`openlive serve --state-url redis://HOST:PORT/DB` keeps them here instead of in the
data folder's SQLite file, so that any node behind a load balancer admits a token made
on another and resumes a session that began on another.

Layout (every key under `openlive:`; choose the database with the URL's `/DB`)::

    openlive:token:<sha256 of the name>    hash: uses_left (absent: no limit),
                                           expire_time, new_session_expire_time,
                                           setup, field_mask, creator, created
    openlive:handle:<sha256 of the handle> hash: snapshot, created, expires, last_used

- Expiry is Redis's: a token's key lives until a day after its `expire_time`
  (`TOKEN_RETENTION`, so that a late client hears "expired"), a handle's until its
  `expires`. The TTLs are set relative to the caller's `now`; the stored times are
  checked as well, so a record is refused from the second it expires. `purge` has
  nothing to do.
- A use of a token is taken by one Lua script, which Redis runs atomically: of any
  number of nodes racing for a token's last use, exactly one gets it.
- Like the SQLite store, it keeps digests only: nothing in Redis can be presented to a
  server.
- Redis that cannot be reached, or answers late (`socket_timeout`), raises
  `StoreUnavailable` at once; the client library reconnects by itself once it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .store import TOKEN_RETENTION, HandleRecord, StoreUnavailable, TokenRecord, TokenUse, digest

__all__ = ["CONNECT_TIMEOUT", "KEY_PREFIX", "REPLY_TIMEOUT", "RedisStore"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)

KEY_PREFIX = "openlive:"
CONNECT_TIMEOUT = 1.0
"""Seconds to wait for a connection to Redis before the request is refused."""
REPLY_TIMEOUT = 2.0
"""Seconds to wait for Redis to answer a command."""

# KEYS[1] the token; ARGV[1] now. The outcome, as `TokenUse` values.
_USE_TOKEN = """
local f = redis.call('HMGET', KEYS[1], 'expire_time', 'new_session_expire_time', 'uses_left')
if not f[1] then return 'unknown' end
local now = tonumber(ARGV[1])
if tonumber(f[1]) <= now then return 'expired' end
if tonumber(f[2]) <= now then return 'new sessions closed' end
if f[3] then
  if tonumber(f[3]) <= 0 then return 'used up' end
  redis.call('HINCRBY', KEYS[1], 'uses_left', -1)
end
return 'granted'
"""

# KEYS[1] the handle; ARGV: now. Marks a live handle used; its fields, or nil.
_GET_HANDLE = """
local expires = redis.call('HGET', KEYS[1], 'expires')
if not expires or tonumber(expires) <= tonumber(ARGV[1]) then return nil end
redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
return redis.call('HMGET', KEYS[1], 'snapshot', 'created', 'expires', 'last_used')
"""

# KEYS[1] the handle; ARGV: snapshot, expires, now, ttl in ms. Keeps `created`.
_PUT_HANDLE = """
redis.call('HSETNX', KEYS[1], 'created', ARGV[3])
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'expires', ARGV[2], 'last_used', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore:
    """`Store` in Redis (`redis.asyncio`: no thread, no blocking call)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._use_token = client.register_script(_USE_TOKEN)
        self._get_handle = client.register_script(_GET_HANDLE)
        self._put_handle = client.register_script(_PUT_HANDLE)

    @classmethod
    async def open(cls, url: str) -> RedisStore:
        """Connect to the Redis at `url` and check that it answers; `StoreUnavailable`
        (naming the URL, without its password) if it does not."""
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=REPLY_TIMEOUT,
            # once, at once: a pooled connection that Redis closed while it restarted
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        store = cls(client)
        try:
            await store._run(client.ping())
        except StoreUnavailable as exc:
            await client.aclose()
            where = client.connection_pool.connection_kwargs
            shown = f"{where.get('host', where.get('path', url))}:{where.get('port', '')}"
            raise StoreUnavailable(f"cannot reach Redis at {shown.rstrip(':')}: {exc}") from exc
        return store

    async def _run(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except RedisError as exc:
            log.warning("Redis: %s", exc)
            raise StoreUnavailable(f"Redis: {exc}") from exc

    # --- tokens ----------------------------------------------------------------------

    async def add_token(self, name: str, record: TokenRecord) -> None:
        fields: dict[str, str | int] = {
            "expire_time": repr(record.expire_time),
            "new_session_expire_time": repr(record.new_session_expire_time),
            "creator": record.creator,
            "created": repr(record.created),
        }
        if record.uses_left is not None:
            fields["uses_left"] = record.uses_left
        if record.setup is not None:
            fields["setup"] = record.setup
        if record.field_mask is not None:
            fields["field_mask"] = record.field_mask
        key = _token_key(name)
        ttl = record.expire_time + TOKEN_RETENTION - record.created
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=cast(Any, fields))  # redis-py's key type is invariant
            pipe.pexpire(key, _ms(ttl))
            await self._run(pipe.execute())

    async def get_token(self, name: str) -> TokenRecord | None:
        raw = cast(dict[str, str], await self._run(self._redis.hgetall(_token_key(name))))
        if not raw:
            return None
        uses = raw.get("uses_left")
        return TokenRecord(
            uses_left=None if uses is None else int(uses),
            expire_time=float(raw["expire_time"]),
            new_session_expire_time=float(raw["new_session_expire_time"]),
            setup=raw.get("setup"),
            field_mask=raw.get("field_mask"),
            creator=raw["creator"],
            created=float(raw["created"]),
        )

    async def use_token(self, name: str, now: float) -> TokenUse:
        outcome = await self._run(self._use_token(keys=[_token_key(name)], args=[repr(now)]))
        return TokenUse(outcome)

    # --- resumption handles ----------------------------------------------------------

    async def put_handle(self, handle: str, snapshot: str, expires: float, now: float) -> None:
        args: list[str | int] = [snapshot, repr(expires), repr(now), _ms(expires - now)]
        await self._run(self._put_handle(keys=[_handle_key(handle)], args=args))

    async def get_handle(self, handle: str, now: float) -> HandleRecord | None:
        row = await self._run(self._get_handle(keys=[_handle_key(handle)], args=[repr(now)]))
        if row is None:
            return None
        snapshot, created, expires, last_used = row
        return HandleRecord(snapshot, float(created), float(expires), float(last_used))

    async def delete_handle(self, handle: str) -> bool:
        return bool(await self._run(self._redis.delete(_handle_key(handle))))

    # --- upkeep ----------------------------------------------------------------------

    async def purge(self, before: float) -> int:
        return 0  # Redis expires the keys itself

    async def close(self) -> None:
        await self._redis.aclose()


def _token_key(name: str) -> str:
    return f"{KEY_PREFIX}token:{digest(name)}"


def _handle_key(handle: str) -> str:
    return f"{KEY_PREFIX}handle:{digest(handle)}"
