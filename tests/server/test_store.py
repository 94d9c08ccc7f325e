"""The two stores, by one suite: tokens and their uses, resumption handles, expiry.
The SQLite store on real files in a temporary folder (what survives a reopen or a
killed process); the Redis store on a real redis-server (TTLs, and atomic uses across
connections, as between nodes). No OpenLive server."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from openlive.server.redis_store import RedisStore
from openlive.server.store import (
    BUSY_TIMEOUT,
    SQLiteStore,
    Store,
    StoreUnavailable,
    TokenRecord,
    TokenUse,
)
from tests.services import RedisServer, start_redis

NOW = 1_800_000_000.0
NAME = "auth_tokens/" + "ab" * 32


def record(uses: int | None = 1, *, expire: float = 1800, new_session: float = 60) -> TokenRecord:
    return TokenRecord(
        uses_left=uses,
        expire_time=NOW + expire,
        new_session_expire_time=NOW + new_session,
        setup='{"model":"models/m"}',
        field_mask="model",
        creator="0123456789abcdef",
        created=NOW,
    )


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    running = start_redis(tmp_path_factory.mktemp("redis"))
    yield running
    running.stop()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store, empty."""
    opened: Store
    if request.param == "sqlite":
        opened = await SQLiteStore.open(tmp_path / "state.sqlite3")
    else:
        redis: RedisServer = request.getfixturevalue("redis_server")
        opened = await RedisStore.open(redis.url)
        await opened._redis.flushdb()
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "state.sqlite3")
    yield opened
    await opened.close()


# --- tokens ----------------------------------------------------------------------------


async def test_a_token_is_kept_as_given(store: Store) -> None:
    await store.add_token(NAME, record(3))
    assert await store.get_token(NAME) == record(3)
    assert await store.get_token(NAME + "x") is None


async def test_each_use_takes_one_until_none_is_left(store: Store) -> None:
    await store.add_token(NAME, record(2))
    assert await store.use_token(NAME, NOW) is TokenUse.GRANTED
    assert (await store.get_token(NAME)).uses_left == 1  # type: ignore[union-attr]
    assert await store.use_token(NAME, NOW) is TokenUse.GRANTED
    assert await store.use_token(NAME, NOW) is TokenUse.USED_UP
    assert (await store.get_token(NAME)).uses_left == 0  # type: ignore[union-attr]


async def test_no_limit(store: Store) -> None:
    await store.add_token(NAME, record(None))
    for _ in range(5):
        assert await store.use_token(NAME, NOW) is TokenUse.GRANTED
    assert (await store.get_token(NAME)).uses_left is None  # type: ignore[union-attr]


async def test_why_a_use_is_refused(store: Store) -> None:
    await store.add_token(NAME, record(5, expire=100, new_session=10))
    assert await store.use_token("auth_tokens/unknown", NOW) is TokenUse.UNKNOWN
    assert await store.use_token(NAME, NOW + 10) is TokenUse.NEW_SESSIONS_CLOSED
    assert await store.use_token(NAME, NOW + 100) is TokenUse.EXPIRED
    assert await store.use_token(NAME, NOW + 9.9) is TokenUse.GRANTED
    assert (await store.get_token(NAME)).uses_left == 4  # type: ignore[union-attr]


async def test_concurrent_uses_of_the_last_one_grant_exactly_one(store: Store) -> None:
    await store.add_token(NAME, record(1))
    outcomes = await asyncio.gather(*(store.use_token(NAME, NOW) for _ in range(20)))
    assert outcomes.count(TokenUse.GRANTED) == 1
    assert outcomes.count(TokenUse.USED_UP) == 19


def test_two_processes_sharing_the_file_grant_each_use_once(tmp_path: Path) -> None:
    """Separate connections (as separate server processes have) racing on threads."""
    path = tmp_path / "state.sqlite3"

    async def setup() -> None:
        first = await SQLiteStore.open(path)
        await first.add_token(NAME, record(10))
        await first.close()

    asyncio.run(setup())
    outcomes: list[TokenUse] = []
    start = threading.Barrier(4)

    def racer() -> None:
        async def run() -> None:
            store = await SQLiteStore.open(path)
            start.wait()
            for _ in range(10):
                outcomes.append(await store.use_token(NAME, NOW))
            await store.close()

        asyncio.run(run())

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(TokenUse.GRANTED) == 10
    assert outcomes.count(TokenUse.USED_UP) == 30


async def test_tokens_and_uses_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = await SQLiteStore.open(path)
    await store.add_token(NAME, record(2))
    assert await store.use_token(NAME, NOW) is TokenUse.GRANTED
    await store.close()
    reopened = await SQLiteStore.open(path)
    assert (await reopened.get_token(NAME)).uses_left == 1  # type: ignore[union-attr]
    await reopened.close()


KILLED = """
import asyncio, os, signal, sys
from openlive.server.store import SQLiteStore, TokenRecord

async def main():
    store = await SQLiteStore.open(sys.argv[1])
    await store.add_token("auth_tokens/kept", TokenRecord(3, 2e9, 2e9, None, None, "c", 1e9))
    await store.use_token("auth_tokens/kept", 1e9)
    await store.put_handle("handle-kept", '{"turns": 2}', 2e9, 1e9)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_what_was_written_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED, str(path))
    assert await process.wait() == -9
    store = await SQLiteStore.open(path)
    kept = await store.get_token("auth_tokens/kept")
    assert kept is not None and kept.uses_left == 2
    handle = await store.get_handle("handle-kept", 1e9 + 1)
    assert handle is not None and handle.snapshot == '{"turns": 2}'
    await store.close()


def test_the_file_holds_no_token_or_handle(tmp_path: Path) -> None:
    async def write() -> None:
        store = await SQLiteStore.open(tmp_path / "state.sqlite3")
        await store.add_token(NAME, record())
        await store.put_handle("secret-handle", "{}", NOW + 60, NOW)
        await store.close()

    asyncio.run(write())
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert NAME.encode() not in data
    assert b"secret-handle" not in data


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer OpenLive"):
        await SQLiteStore.open(path)


# --- resumption handles ----------------------------------------------------------------


async def test_handles_put_get_replace_delete(store: Store) -> None:
    assert await store.get_handle("h", NOW) is None
    await store.put_handle("h", '{"v": 1}', NOW + 100, NOW)
    got = await store.get_handle("h", NOW + 5)
    assert got is not None
    assert (got.snapshot, got.created, got.expires, got.last_used) == (
        '{"v": 1}',
        NOW,
        NOW + 100,
        NOW + 5,
    )
    await store.put_handle("h", '{"v": 2}', NOW + 200, NOW + 10)
    got = await store.get_handle("h", NOW + 11)
    assert got is not None
    assert (got.snapshot, got.created, got.expires) == ('{"v": 2}', NOW, NOW + 200)
    assert await store.delete_handle("h") is True
    assert await store.delete_handle("h") is False
    assert await store.get_handle("h", NOW + 12) is None


async def test_an_expired_handle_is_not_found(store: Store) -> None:
    await store.put_handle("h", "{}", NOW + 100, NOW)
    assert await store.get_handle("h", NOW + 100) is None
    assert await store.get_handle("h", NOW + 99) is not None


async def test_purge_removes_only_what_expired_before(sqlite_store: SQLiteStore) -> None:
    store = sqlite_store
    await store.add_token("auth_tokens/old", record(expire=10))
    await store.add_token("auth_tokens/new", record(expire=1000))
    await store.put_handle("old", "{}", NOW + 10, NOW)
    await store.put_handle("new", "{}", NOW + 1000, NOW)
    assert await store.purge(NOW + 500) == 2
    assert await store.get_token("auth_tokens/old") is None
    assert await store.get_token("auth_tokens/new") is not None
    assert await store.get_handle("old", NOW) is None
    assert await store.get_handle("new", NOW) is not None


async def test_calls_do_not_run_on_the_event_loop_thread(sqlite_store: SQLiteStore) -> None:
    store = sqlite_store
    seen: list[str] = []
    original = store._get_token

    def spy(digest: str) -> TokenRecord | None:
        seen.append(threading.current_thread().name)
        return original(digest)

    store._get_token = spy  # type: ignore[method-assign]
    await store.get_token(NAME)
    assert seen and seen[0].startswith("openlive-store")
    assert seen[0] != threading.current_thread().name


def test_a_memory_store_for_tests() -> None:
    async def run() -> TokenUse:
        store = await SQLiteStore.open(":memory:")
        await store.add_token(NAME, record())
        try:
            return await store.use_token(NAME, NOW)
        finally:
            await store.close()

    assert asyncio.run(run()) is TokenUse.GRANTED


def test_the_store_file_is_plain_sqlite_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    asyncio.run(_open_close(path))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"auth_tokens", "resumption_handles"} <= tables


async def _open_close(path: Path) -> None:
    store = await SQLiteStore.open(path)
    await store.close()


# --- Redis ------------------------------------------------------------------------------


async def test_redis_expires_records_with_ttls(redis_server: RedisServer) -> None:
    store = await RedisStore.open(redis_server.url)
    try:
        await store.add_token(NAME, record(expire=60))
        await store.put_handle("h", "{}", NOW + 1.5, NOW)
        keys = {k: await store._redis.pttl(k) for k in await store._redis.keys("openlive:*")}
        token_ttl = next(v for k, v in keys.items() if k.startswith("openlive:token:"))
        handle_ttl = next(v for k, v in keys.items() if k.startswith("openlive:handle:"))
        # a day after the token's expiry (to say "expired"), the handle's own expiry
        assert abs(token_ttl - (60 + 24 * 3600) * 1000) < 5000
        assert 0 < handle_ttl <= 1500
        await asyncio.sleep(1.6)
        assert not await store._redis.keys("openlive:handle:*")  # gone from Redis itself
        assert await store.purge(NOW + 10**6) == 0  # nothing left for a purge to do
    finally:
        await store.close()


RACER = """
import asyncio, sys
from openlive.server.redis_store import RedisStore

async def main():
    store = await RedisStore.open(sys.argv[1])
    print(*[(await store.use_token(sys.argv[2], float(sys.argv[3]))).value
            for _ in range(10)], sep="\\n")
    await store.close()

asyncio.run(main())
"""


async def test_redis_grants_each_use_once_across_processes(redis_server: RedisServer) -> None:
    """Four processes (as four nodes) race for ten uses of one token."""
    store = await RedisStore.open(redis_server.url)
    await store.add_token(NAME, record(10))
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", RACER, redis_server.url, NAME, str(NOW),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]  # fmt: skip
    outputs = await asyncio.gather(*(r.communicate() for r in racers))
    outcomes = [line for out, _ in outputs for line in out.decode().split()]
    assert outcomes.count("granted") == 10
    assert outcomes.count("used") == 30  # "used up", split in two words
    assert (await store.get_token(NAME)).uses_left == 0  # type: ignore[union-attr]
    await store.close()


async def test_redis_holds_no_token_or_handle(redis_server: RedisServer) -> None:
    store = await RedisStore.open(redis_server.url)
    try:
        await store.add_token(NAME, record())
        await store.put_handle("secret-handle", "{}", NOW + 60, NOW)
        keys = await store._redis.keys("*")
        kinds = {key.split(":")[1] for key in keys if key.startswith("openlive:")}
        assert {"token", "handle"} <= kinds, keys  # both stored, under their digests
        values = [await store._redis.hgetall(k) for k in keys]
        dump = repr((keys, values))
        assert NAME not in dump and NAME.removeprefix("auth_tokens/") not in dump
        assert "secret-handle" not in dump
    finally:
        await store.close()


async def test_redis_that_is_down_says_so_at_once(tmp_path: Path) -> None:
    redis = start_redis(tmp_path)
    store = await RedisStore.open(redis.url)
    await store.add_token(NAME, record(3))
    redis.stop()
    loop = asyncio.get_running_loop()
    for call in (
        store.use_token(NAME, NOW),
        store.get_token(NAME),
        store.put_handle("h", "{}", NOW + 60, NOW),
        store.get_handle("h", NOW),
    ):
        started = loop.time()
        with pytest.raises(StoreUnavailable):
            await call
        assert loop.time() - started < 1.0
    redis.start()  # an empty Redis on the same port: the client reconnects by itself
    await store.add_token(NAME, record(3))
    assert await store.use_token(NAME, NOW) is TokenUse.GRANTED
    await store.close()
    redis.stop()
    with pytest.raises(StoreUnavailable, match="cannot reach Redis at 127.0.0.1"):
        await RedisStore.open(redis.url)


# --- a state file that cannot be written ------------------------------------------------


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection (as another process) holding an exclusive lock on the file."""
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        locker.execute("ROLLBACK")
        locker.close()


async def waited(call: Awaitable[object]) -> tuple[float, int]:
    """Await `call`, which must fail with `StoreUnavailable`: how long it took, and how
    many times a task on the event loop ran meanwhile (every 10 ms)."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match="the state file cannot be used"):
            await call
    finally:
        ticker.cancel()
    return time.monotonic() - started, ticks


async def test_a_locked_file_fails_writes_after_a_short_wait_and_still_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    store = await SQLiteStore.open(path)
    await store.add_token(NAME, record(3))
    await store.put_handle("h", '{"v": 1}', NOW + 100, NOW)
    with locked(path):
        took, ticks = await waited(store.put_handle("h2", "{}", NOW + 100, NOW))
        # The write waited for the lock on the store's thread: the loop ran meanwhile.
        assert BUSY_TIMEOUT - 0.2 < took < BUSY_TIMEOUT + 2
        assert ticks >= 20, "the event loop did not run while the write waited"
        # The next writes do not wait again: they fail at once, for a moment.
        with pytest.raises(StoreUnavailable, match="not tried again yet"):
            await store.use_token(NAME, NOW)
        # What is there can still be read: a handle (not marked used), a token.
        got = await store.get_handle("h", NOW + 5)
        assert got is not None and (got.snapshot, got.last_used) == ('{"v": 1}', NOW)
        assert await store.get_handle("h", NOW + 100) is None  # expired, all the same
        assert (await store.get_token(NAME)).uses_left == 3  # type: ignore[union-attr]
    await asyncio.sleep(BUSY_TIMEOUT)  # then writes are tried again, and work
    assert await store.use_token(NAME, NOW) is TokenUse.GRANTED
    got = await store.get_handle("h", NOW + 6)
    assert got is not None and got.last_used == NOW + 6
    await store.close()


async def test_a_locked_file_opens(tmp_path: Path) -> None:
    """A server starting while another process holds the file: nothing is written at
    open, so it starts, and reads."""
    path = tmp_path / "state.sqlite3"
    store = await SQLiteStore.open(path)
    await store.add_token(NAME, record(3))
    await store.close()
    with locked(path):
        store = await SQLiteStore.open(path)
        assert await store.get_token(NAME) == record(3)
        await store.close()


async def test_a_full_file_fails_writes_and_still_reads(sqlite_store: SQLiteStore) -> None:
    store = sqlite_store
    await store.put_handle("h", '{"v": 1}', NOW + 100, NOW)
    pages = await store._call(lambda: store._db.execute("PRAGMA page_count").fetchone()[0])
    await store._call(store._db.execute, f"PRAGMA max_page_count = {pages}")  # as if full
    with pytest.raises(StoreUnavailable, match="full"):
        await store.put_handle("big", "x" * 100_000, NOW + 100, NOW)
    got = await store.get_handle("h", NOW + 5)
    assert got is not None and got.snapshot == '{"v": 1}'


async def test_a_file_that_could_only_be_read_is_opened_again_to_write(tmp_path: Path) -> None:
    """SQLite opens a read-only file for reading only, and its connection stays so: once
    the file can be written, the store opens it again."""
    path = tmp_path / "state.sqlite3"
    store = await SQLiteStore.open(path)
    await store.put_handle("h", '{"v": 1}', NOW + 100, NOW)

    def reader() -> None:  # what the store would have opened on a read-only file
        store._db.close()
        store._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    await store._call(reader)
    with pytest.raises(StoreUnavailable, match="readonly database"):
        await store.add_token(NAME, record())
    got = await store.get_handle("h", NOW + 5)
    assert got is not None and got.last_used == NOW  # read, not marked
    await asyncio.sleep(BUSY_TIMEOUT)
    await store.add_token(NAME, record())
    assert await store.get_token(NAME) == record()
    await store.close()


@pytest.mark.parametrize("where", ["a folder", "under a file"])
async def test_a_state_file_that_cannot_be_opened_says_so(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path if where == "a folder" else tmp_path / "file" / "state.sqlite3"
    with pytest.raises(StoreUnavailable, match=f"the state file {path} cannot be used: "):
        await SQLiteStore.open(path)
