"""The state that must outlive a connection and a restart: ephemeral tokens and session
resumption handles.

`Store` is the interface. `SQLiteStore` keeps it in one SQLite file in the data folder
(`state.sqlite3`):

- WAL journal, and every write is its own transaction, committed before the call
  returns. What a call has written survives the process being killed (`kill -9`);
  `synchronous=NORMAL` means that a power cut may lose the last commits, not corrupt
  the file.
- Every call runs on the store's one thread, so the event loop never waits on the
  disk, and calls from one process run one after another. A use of a token is taken
  by a single conditional `UPDATE`, so it is atomic even between processes that share
  the file: of two sessions racing for a token's last use, exactly one gets it.
- A write waits at most `BUSY_TIMEOUT` for another process's lock on the file. Once a
  write has failed (locked, disk full, read-only, I/O error), the writes of the next
  `BUSY_TIMEOUT` seconds fail at once, without trying: a file held locked delays a call
  by about `BUSY_TIMEOUT` at most, however many are queued, and the first write after
  that tells whether it is writable again.
- A file that cannot be written can still be read: resuming a session reads its handle
  without marking it used (`last_used` says only when a handle was last read).
- A file that was read-only (SQLite then opens it for reading only) is opened again
  before the next write is tried, so that it is written once it can be.
- Tokens and handles are kept as SHA-256 digests. The file holds nothing that could be
  presented to the server.
- Times are Unix seconds, given by the caller (`now`), so tests can move the clock.

`RedisStore` (`redis_store.py`) keeps the same records in Redis, for several nodes that
share their sessions; `open_store` opens the one a `--state-url` names.

A store that cannot be reached or written raises `StoreUnavailable`: the session or
request that needed it is refused with 1011 "The service is currently unavailable."
(HTTP 503), and nothing else is harmed.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from ..protocol.errors import Unavailable

__all__ = [
    "BUSY_TIMEOUT",
    "STORE_FILE",
    "TOKEN_RETENTION",
    "HandleRecord",
    "SQLiteStore",
    "Store",
    "StoreUnavailable",
    "TokenRecord",
    "TokenUse",
    "open_store",
]

log = logging.getLogger(__name__)

STORE_FILE = "state.sqlite3"
"""The store's file name in the data folder."""

TOKEN_RETENTION = 24 * 3600.0
"""How long an expired token is kept, so that a late client hears "expired" rather
than "not valid"."""

BUSY_TIMEOUT = 1.0
"""Seconds a write waits for another process's lock on the file (each write holds it for
a single statement, so a wait this long means the file is held locked), and how long
writes fail at once after one has failed."""


class StoreUnavailable(Unavailable):
    """The store cannot be reached or written now (Redis down, disk full, file locked)."""


_T = TypeVar("_T")

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_tokens (
    digest TEXT PRIMARY KEY,                -- SHA-256 of the token's name, hex
    uses_left INTEGER,                      -- NULL: no limit
    expire_time REAL NOT NULL,              -- nothing is admitted after it
    new_session_expire_time REAL NOT NULL,  -- no new session is started after it
    setup TEXT,                             -- the locked setup, JSON (camelCase)
    field_mask TEXT,                        -- comma-separated paths
    creator TEXT NOT NULL,                  -- a fingerprint of the key that made it
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS auth_tokens_by_expiry ON auth_tokens (expire_time);
CREATE TABLE IF NOT EXISTS resumption_handles (
    digest TEXT PRIMARY KEY,                -- SHA-256 of the handle, hex
    snapshot TEXT NOT NULL,                 -- the session's snapshot, JSON
    created REAL NOT NULL,
    expires REAL NOT NULL,
    last_used REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resumption_handles_by_expiry ON resumption_handles (expires);
"""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    uses_left: int | None
    """Sessions the token may still start; None for no limit."""
    expire_time: float
    new_session_expire_time: float
    setup: str | None
    """The locked setup as JSON, or None (see `protocol.tokens.Constraints`)."""
    field_mask: str | None
    creator: str
    created: float


class TokenUse(enum.Enum):
    """The outcome of asking for one use of a token."""

    GRANTED = "granted"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    NEW_SESSIONS_CLOSED = "new sessions closed"
    USED_UP = "used up"


@dataclass(frozen=True, slots=True)
class HandleRecord:
    snapshot: str
    created: float
    expires: float
    last_used: float


class Store(Protocol):
    """Tokens and resumption handles. Each call is safe to cancel in that it leaves
    the store consistent; a write that was started is still done."""

    async def add_token(self, name: str, record: TokenRecord) -> None: ...

    async def get_token(self, name: str) -> TokenRecord | None:
        """The token's record, expired or not; None if there is none."""

    async def use_token(self, name: str, now: float) -> TokenUse:
        """Take one use of the token to start a new session, atomically."""

    async def put_handle(self, handle: str, snapshot: str, expires: float, now: float) -> None:
        """Keep a handle's snapshot until `expires`, replacing any earlier one."""

    async def get_handle(self, handle: str, now: float) -> HandleRecord | None:
        """The handle's record if it has not expired, marked as used at `now`."""

    async def delete_handle(self, handle: str) -> bool:
        """Forget a handle; whether there was one."""

    async def purge(self, before: float) -> int:
        """Remove the tokens and handles that expired before `before`; how many."""

    async def close(self) -> None: ...


async def open_store(url: str | None, data_dir: Path) -> Store:
    """The store a `--state-url` names: `redis://HOST:PORT/DB` (or `rediss://`,
    `unix://`), else the SQLite file in `data_dir`."""
    if url is None:
        return await SQLiteStore.open(data_dir / STORE_FILE)
    from .redis_store import RedisStore

    return await RedisStore.open(url)


def digest(secret: str) -> str:
    """What a store keeps of a token's name or a handle: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


class SQLiteStore:
    """`Store` in one SQLite file, on a thread of its own."""

    def __init__(
        self, executor: ThreadPoolExecutor, db: sqlite3.Connection, path: str = ":memory:"
    ) -> None:
        self._executor = executor
        self._db = db
        self._path = path
        self._failed: tuple[float, str] | None = None
        """When the last write failed (`time.monotonic()`), and why; None since one
        succeeded."""
        self._read_only = False
        """The last write failed because the file was read-only: the connection is
        opened again before the next one."""

    @classmethod
    async def open(cls, path: Path | str) -> SQLiteStore:
        """Open (or create) the store at `path`; ":memory:" for a private one."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openlive-store")
        loop = asyncio.get_running_loop()
        try:
            db = await loop.run_in_executor(executor, _connect, str(path))
        except (sqlite3.Error, OSError) as exc:  # a folder or file that cannot be written
            executor.shutdown(wait=False)
            raise StoreUnavailable(f"the state file {path} cannot be used: {exc}") from exc
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, db, str(path))

    async def _call(self, fn: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except sqlite3.OperationalError as exc:  # locked, disk full, read-only, I/O
            log.warning("the state file cannot be used: %s", exc)
            raise StoreUnavailable(f"the state file cannot be used: {exc}") from exc

    def _write(self, sql: str, parameters: tuple[object, ...]) -> sqlite3.Cursor:
        """One write statement, on the store's thread; none within `BUSY_TIMEOUT` of a
        write that failed (the same `OperationalError` at once)."""
        if self._failed is not None:
            at, why = self._failed
            if time.monotonic() - at < BUSY_TIMEOUT:
                raise sqlite3.OperationalError(f"{why} (a moment ago; not tried again yet)")
        try:
            if self._read_only:
                self._reopen()
            cursor = self._db.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            self._failed = (time.monotonic(), str(exc))
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
                self._read_only = True  # (and stays so until it is opened again)
            raise
        self._failed = None
        return cursor

    def _reopen(self) -> None:
        """A new connection in place of one that could only read, on the store's thread."""
        try:
            db = _connect(self._path)
        except (sqlite3.Error, OSError) as exc:
            raise sqlite3.OperationalError(f"cannot open it again: {exc}") from exc
        self._db.close()
        self._db = db
        self._read_only = False
        log.debug("the state file %s is opened again", self._path)

    # --- tokens ----------------------------------------------------------------------

    async def add_token(self, name: str, record: TokenRecord) -> None:
        await self._call(self._add_token, digest(name), record)

    def _add_token(self, digest: str, r: TokenRecord) -> None:
        self._write(
            "INSERT INTO auth_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                digest,
                r.uses_left,
                r.expire_time,
                r.new_session_expire_time,
                r.setup,
                r.field_mask,
                r.creator,
                r.created,
            ),
        )

    async def get_token(self, name: str) -> TokenRecord | None:
        return await self._call(self._get_token, digest(name))

    def _get_token(self, digest: str) -> TokenRecord | None:
        row = self._db.execute(
            "SELECT uses_left, expire_time, new_session_expire_time, setup, field_mask, "
            "creator, created FROM auth_tokens WHERE digest = ?",
            (digest,),
        ).fetchone()
        return None if row is None else TokenRecord(*row)

    async def use_token(self, name: str, now: float) -> TokenUse:
        return await self._call(self._use_token, digest(name), now)

    def _use_token(self, digest: str, now: float) -> TokenUse:
        taken = self._write(
            "UPDATE auth_tokens SET uses_left = uses_left - 1 WHERE digest = ? "
            "AND expire_time > ? AND new_session_expire_time > ? "
            "AND (uses_left IS NULL OR uses_left > 0)",
            (digest, now, now),
        ).rowcount
        if taken:
            return TokenUse.GRANTED
        record = self._get_token(digest)  # only to say why not
        if record is None:
            return TokenUse.UNKNOWN
        if record.expire_time <= now:
            return TokenUse.EXPIRED
        if record.new_session_expire_time <= now:
            return TokenUse.NEW_SESSIONS_CLOSED
        return TokenUse.USED_UP

    # --- resumption handles ----------------------------------------------------------

    async def put_handle(self, handle: str, snapshot: str, expires: float, now: float) -> None:
        await self._call(self._put_handle, digest(handle), snapshot, expires, now)

    def _put_handle(self, digest: str, snapshot: str, expires: float, now: float) -> None:
        self._write(
            "INSERT INTO resumption_handles VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) "
            "DO UPDATE SET snapshot = excluded.snapshot, expires = excluded.expires, "
            "last_used = excluded.last_used",
            (digest, snapshot, now, expires, now),
        )

    async def get_handle(self, handle: str, now: float) -> HandleRecord | None:
        return await self._call(self._get_handle, digest(handle), now)

    def _get_handle(self, digest: str, now: float) -> HandleRecord | None:
        try:
            touched = self._write(
                "UPDATE resumption_handles SET last_used = ? WHERE digest = ? AND expires > ?",
                (now, digest, now),
            ).rowcount
        except sqlite3.OperationalError as exc:  # locked, full, read-only: read it as it is
            log.warning("a resumption handle is read without marking it used: %s", exc)
            touched = None
        if touched == 0:
            return None
        row = self._db.execute(
            "SELECT snapshot, created, expires, last_used FROM resumption_handles "
            "WHERE digest = ? AND expires > ?",
            (digest, now),
        ).fetchone()
        return None if row is None else HandleRecord(*row)

    async def delete_handle(self, handle: str) -> bool:
        return await self._call(self._delete_handle, digest(handle))

    def _delete_handle(self, digest: str) -> bool:
        return bool(
            self._write("DELETE FROM resumption_handles WHERE digest = ?", (digest,)).rowcount
        )

    # --- upkeep ----------------------------------------------------------------------

    async def purge(self, before: float) -> int:
        return await self._call(self._purge, before)

    def _purge(self, before: float) -> int:
        tokens = self._write("DELETE FROM auth_tokens WHERE expire_time < ?", (before,))
        handles = self._write("DELETE FROM resumption_handles WHERE expires < ?", (before,))
        return tokens.rowcount + handles.rowcount

    async def close(self) -> None:
        try:
            await self._call(self._db.close)
        finally:
            self._executor.shutdown(wait=False)


def _connect(path: str) -> sqlite3.Connection:
    """Open the file in autocommit mode (each statement commits), WAL, schema in place."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
    try:
        if path != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"{path} was written by a newer OpenLive (store schema {version}); "
                "upgrade, or move the file away"
            )
        if version < _SCHEMA_VERSION:  # else nothing is written: a locked file opens
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db
