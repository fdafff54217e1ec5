"""The database handle: engines, and a way to run a function inside one transaction.

Storage functions are plain synchronous SQLAlchemy Core code taking a `Connection`. The server
runs each transaction in one step: on SQLite, writes on the event loop, where the requests that
arrive together share one transaction and one commit (see group_commit; aiosqlite would cost a
hop per statement), with checkpoints on a thread (see checkpoints); short reads on the event
loop too, on a connection of their own (see local_reads), and reads that may visit many rows
on a thread of their own. On PostgreSQL, through asyncpg, with SQLAlchemy's greenlet bridge
(`greenlet_spawn`, as `run_sync` uses it) driving the same code, and two pools: one for
transactions, one in autocommit for reads of one statement. asyncpg, not psycopg's async
driver: a one-row read through this path cost 205 to 240 µs of the server's CPU with psycopg
and 89 to 137 with asyncpg (bench/README.md, thirteenth session). Admin commands and
migrations use the synchronous engine, on psycopg (asyncpg has no synchronous side).
"""

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import URL, Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from gong_meetings import metrics
from gong_meetings.config import PoolOptions
from gong_meetings.errors import ServiceUnavailable
from gong_meetings.storage.batches import Batcher, Item, Result, StoreAll
from gong_meetings.storage.checkpoints import Checkpointer
from gong_meetings.storage.driver import is_data_error
from gong_meetings.storage.group_commit import GroupCommitter
from gong_meetings.storage.local_reads import LocalReader

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# A deadlock or serialization failure is retried this many times before it becomes a 503.
TRANSACTION_ATTEMPTS = 3
RETRY_AFTER_SECONDS = "1"
_POSTGRES_NAMES = ("postgresql", "postgres", "postgresql+psycopg")
# SQLSTATE classes: 40 (deadlock, serialization failure: retry), 08 and 57 (connection lost,
# server shutting down, statement timeout: unavailable).
_RETRYABLE_STATES = ("40",)


class DatabaseUrlError(ValueError):
    """GONG_MEETINGS_DATABASE_URL is not a URL we can use."""


def parse_database_url(url: str) -> URL:
    """The SQLAlchemy URL for the plain forms users write: sqlite:///x.db, postgresql://..."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"GONG_MEETINGS_DATABASE_URL is not a database URL: {url!r}"
            " (expected sqlite:///path/to/file.db or postgresql://user@host:5432/db)"
        ) from None
    if parsed.drivername == "sqlite":
        return parsed
    if parsed.drivername in _POSTGRES_NAMES:
        return parsed.set(drivername="postgresql+psycopg")
    raise DatabaseUrlError(
        f"unsupported database {parsed.drivername!r} in GONG_MEETINGS_DATABASE_URL;"
        " use sqlite:///path/to/file.db or postgresql://user@host:5432/db"
    )


def _postgres_connect_args(options: PoolOptions) -> dict[str, Any]:
    return {
        "connect_timeout": options.connect_timeout_seconds,
        # Bounds every statement, and every wait for a lock, on the server side.
        "options": f"-c statement_timeout={options.statement_timeout_ms}"
        f" -c lock_timeout={options.statement_timeout_ms}",
    }


def _asyncpg_connector(url: URL, options: PoolOptions) -> Callable[[], Awaitable[Any]]:
    """How the server's pools connect: asyncpg, given the URL as a DSN, so that it reads
    libpq's query parameters (sslmode, ...) as libpq would; SQLAlchemy would pass each one to
    asyncpg.connect as an argument of that name. The same bounds as _postgres_connect_args."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    timeout_ms = str(options.statement_timeout_ms)

    def connect() -> Awaitable[Any]:
        return asyncpg.connect(
            dsn,
            timeout=options.connect_timeout_seconds,
            server_settings={"statement_timeout": timeout_ms, "lock_timeout": timeout_ms},
        )

    return connect


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # Take the write lock up front: a deferred transaction that reads and then writes can fail
    # at once with SQLITE_BUSY when another process (the CLI, say) wrote in between. The group
    # committer begins its transactions through the driver, before SQLAlchemy knows of them.
    driver = connection.connection.driver_connection
    if not (isinstance(driver, sqlite3.Connection) and driver.in_transaction):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sync_engine(url: URL, options: PoolOptions) -> Engine:
    if url.drivername == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        url, pool_size=2, pool_pre_ping=True, connect_args=_postgres_connect_args(options)
    )


def _unavailable() -> ServiceUnavailable:
    metrics.DATABASE_ERRORS.inc()
    return ServiceUnavailable(
        "database: unavailable, try again shortly", headers={"Retry-After": RETRY_AFTER_SECONDS}
    )


def _sqlstate(error: DBAPIError) -> str:
    return str(getattr(error.orig, "sqlstate", None) or "")


class Database:
    """Runs storage functions in transactions; database trouble becomes a 503."""

    def __init__(
        self, url: str, options: PoolOptions | None = None, *, reads_share_turns: bool = False
    ) -> None:
        """`reads_share_turns`: on SQLite, the short reads of one turn of the event loop share a
        snapshot (storage/local_reads.py), for a server whose requests all come from its sockets:
        `serve`. A program that calls the app in-process may write between two requests without
        the loop turning, and there each read must take a snapshot of its own."""
        self.url = parse_database_url(url)
        self.options = options or PoolOptions()
        self.is_sqlite = self.url.drivername == "sqlite"
        self.engine = _sync_engine(self.url, self.options)
        # An in-memory database is one per connection: reads and checkpoints (it has no WAL)
        # must not be on connections of their own.
        in_memory = self.url.database in (None, "", ":memory:")
        self._committer = (
            GroupCommitter(
                self.engine,
                SQLITE_BUSY_TIMEOUT_MS / 1000,
                checkpointer=None if in_memory else Checkpointer(self.engine),
            )
            if self.is_sqlite
            else None
        )
        self._reader = (
            LocalReader(self.engine, per_turn=reads_share_turns)
            if self.is_sqlite and not in_memory
            else None
        )
        # Reads of many rows, one at a time, on a thread with a connection of its own.
        self._scanner = LocalReader(self.engine) if self._reader is not None else None
        self._scans: ThreadPoolExecutor | None = None
        self._async_engine: AsyncEngine | None = None
        self._batchers: dict[StoreAll[Any, Any], Batcher[Any, Any]] = {}
        self._autocommit_engine: AsyncEngine | None = None
        # Waiting for a connection, making one, and the statements themselves, with a margin.
        self._deadline_seconds = (
            self.options.timeout_seconds
            + self.options.connect_timeout_seconds
            + self.options.statement_timeout_ms / 1000
            + 1
        )

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction on the calling thread (the CLI, migrations)."""
        with self.engine.begin() as connection:
            return work(connection)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction without blocking the event loop."""
        return await self._with_retries(lambda: self._run_once(work))

    async def run_batched(self, store_all: StoreAll[Item, Result], item: Item) -> Result:
        """`store_all`'s result for `item`, stored in one transaction: on PostgreSQL with the
        other items given it at this moment (see batches); on SQLite alone, as the group
        commit shares each transaction among the writes of a moment already."""
        if self._committer is not None:
            results = await self.run(lambda connection: store_all(connection, [item]))
            return results[0]
        batcher = self._batchers.get(store_all)
        if batcher is None:
            batcher = self._batchers[store_all] = Batcher(store_all, self.run)
        result: Result = await batcher.store(item)
        return result

    async def read(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """Run `work`, which reads a few rows and writes nothing, in one transaction. On
        SQLite that is here on the event loop (see local_reads); elsewhere as `run`. Work that
        runs `one_statement` needs no transaction around it: a lone statement sees one
        snapshot on either database."""
        reader = self._reader
        if reader is None:
            if one_statement and not self.is_sqlite:
                return await self._with_retries(lambda: self._read_postgres(work))
            return await self.run(work)
        # Nothing to retry on SQLite (its errors carry no SQLSTATE), so no _with_retries and
        # its two coroutines around every short read.
        try:
            return reader.read(work, one_statement=one_statement)
        except (DBAPIError, PoolTimeout, OSError) as error:
            _raise_if_outage(error)
            raise

    async def scan(self, work: Callable[[Connection], T]) -> T:
        """Run `work`, a read that may visit many rows, in one transaction. On a SQLite file,
        that is on a thread of its own, so that the event loop serves others meanwhile;
        elsewhere as `run`."""
        scanner = self._scanner
        if scanner is None:
            return await self.run(work)
        if self._scans is None:
            self._scans = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gong-scan")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._scans, scanner.read, work)
        except (DBAPIError, PoolTimeout, OSError) as error:
            _raise_if_outage(error)
            raise

    async def _with_retries(self, attempt_once: Callable[[], Awaitable[T]]) -> T:
        """The outcome of a transaction, retried on a deadlock; database trouble is a 503."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                return await attempt_once()
            except (DBAPIError, PoolTimeout, OSError) as error:
                retryable = isinstance(error, DBAPIError) and _sqlstate(error).startswith(
                    _RETRYABLE_STATES
                )
                if retryable and attempt < TRANSACTION_ATTEMPTS:
                    continue
                _raise_if_outage(error)
                raise
        raise AssertionError("unreachable")

    async def ping(self) -> None:
        """A trivial query: returns when the database answers, ServiceUnavailable otherwise."""
        await self.run(lambda connection: connection.execute(select(1)))

    async def _run_once(self, work: Callable[[Connection], T]) -> T:
        if self._committer is not None:
            result: T = await self._committer.run(work)
            return result
        return await self._run_postgres(work)

    def _postgres_engine(self, *, autocommit: bool = False) -> AsyncEngine:
        """The pool for transactions, or with `autocommit` the pool for lone reads: its
        connections stay in autocommit, since switching a pooled connection's isolation level
        at each use cost more than the BEGIN and COMMIT it saves. Neither pings a connection
        before its use (see _again_if_dropped)."""
        found = self._autocommit_engine if autocommit else self._async_engine
        if found is None:
            found = create_async_engine(
                self.url.set(drivername="postgresql+asyncpg"),
                async_creator=_asyncpg_connector(self.url, self.options),
                # Connections are opened as needed and then kept, overflow included: the pool
                # closing each overflow connection as it came back made a busy server open and
                # close a connection for most requests (bench/README.md).
                pool_size=self.options.size + self.options.max_overflow,
                max_overflow=0,
                pool_timeout=self.options.timeout_seconds,
                **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
            )
            if autocommit:
                self._autocommit_engine = found
            else:
                self._async_engine = found
        return found

    async def _read_postgres(self, work: Callable[[Connection], T]) -> T:
        """`work`'s one statement in autocommit: one round trip, where a transaction makes
        three (BEGIN, the statement, COMMIT)."""
        engine = self._postgres_engine(autocommit=True).sync_engine

        def read() -> T:
            with engine.connect() as connection:
                return work(connection)

        return await self._again_if_dropped(read, lambda: True)

    async def _run_postgres(self, work: Callable[[Connection], T]) -> T:
        engine = self._postgres_engine().sync_engine
        committing = False

        def transaction() -> T:
            nonlocal committing
            committing = False
            with engine.begin() as connection:
                result = work(connection)
                committing = True  # the block's end commits
            return result

        # A transaction whose connection was lost before its COMMIT was sent stored nothing.
        return await self._again_if_dropped(transaction, lambda: not committing)

    async def _again_if_dropped(
        self, attempt: Callable[[], T], safe_to_repeat: Callable[[], bool]
    ) -> T:
        """`attempt`'s outcome; if it found its connection dropped by the server (a restart, a
        failover) and `safe_to_repeat` says it may, `attempt` once more, on a new connection.

        `attempt` is synchronous code on the async engine's synchronous side, run in one
        greenlet as SQLAlchemy's `run_sync` runs it: taking the connection, the work, the
        COMMIT and giving the connection back, where `engine.begin()` and `run_sync` took five
        greenlets, a quarter of a short transaction's time (bench/README.md, sixth session).

        Connections are not pinged before each use: that was a round trip more on every
        request, about a fifth of a short transaction's time (bench/README.md, sixth session).
        A dropped connection fails its first statement instead, which makes the pool drop its
        other connections of that age, so the second attempt gets a new one.
        """
        deadline = time.monotonic() + self._deadline_seconds  # for both attempts together
        try:
            return await self._within_deadline(greenlet_spawn(attempt), deadline)
        except DBAPIError as error:
            if not (error.connection_invalidated and safe_to_repeat()):
                raise
        return await self._within_deadline(greenlet_spawn(attempt), deadline)

    async def _within_deadline(self, attempt: Coroutine[Any, Any, T], deadline: float) -> T:
        """`attempt`'s outcome, or TimeoutError at the `deadline` (`time.monotonic()`)."""
        # The statement timeout is enforced by the server, so it cannot help when the server
        # stops answering (a hung host, a partition). This deadline covers that case; the
        # abandoned task is cancelled and left to finish on its own, since awaiting it would
        # wait for the driver's own cancellation to time out.
        task = asyncio.ensure_future(attempt)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        if task not in done:
            task.cancel()
            task.add_done_callback(_ignore_outcome)
            raise TimeoutError(f"database transaction took over {self._deadline_seconds}s")
        return task.result()

    async def aclose(self) -> None:
        for engine in (self._async_engine, self._autocommit_engine):
            if engine is not None:
                await engine.dispose()
        self.close()

    def close(self) -> None:
        if self._scans is not None:
            self._scans.shutdown()
            self._scans = None
        for reader in (self._reader, self._scanner):
            if reader is not None:
                reader.close()
        if self._committer is not None:
            self._committer.close()
        self.engine.dispose()


def _raise_if_outage(error: DBAPIError | PoolTimeout | OSError) -> None:
    """ServiceUnavailable (503), from `error`, when it is an outage."""
    if _is_outage(error):
        raise _unavailable() from error


def _is_outage(error: DBAPIError | PoolTimeout | OSError) -> bool:
    """Whether a transaction that failed with `error` is a 503: all but errors about the
    statement or its data (a bug here), which are raised as they are."""
    return not (
        isinstance(error, DBAPIError) and not error.connection_invalidated and is_data_error(error)
    )


def _ignore_outcome(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it as never retrieved
