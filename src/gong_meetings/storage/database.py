"""The database handle: one engine, and a way to run a function inside one transaction.

Storage functions are plain synchronous SQLAlchemy Core code taking a `Connection`. The server
runs each transaction in one hop to a dedicated thread, so the event loop never blocks on I/O
and a request costs one thread hop, not one per statement (aiosqlite's cost).
"""

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000


class DatabaseUrlError(ValueError):
    """GONG_MEETINGS_DATABASE_URL is not a URL we can use."""


def create_database_engine(url: str) -> Engine:
    """An engine for `url`, in the plain form users write (`sqlite:///path.db`)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"GONG_MEETINGS_DATABASE_URL is not a database URL: {url!r}"
            " (expected sqlite:///path/to/file.db)"
        ) from None
    if parsed.get_backend_name() != "sqlite":
        raise DatabaseUrlError(
            f"unsupported database {parsed.get_backend_name()!r} in GONG_MEETINGS_DATABASE_URL;"
            " this version supports sqlite:///path/to/file.db"
        )
    engine = create_engine(parsed, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


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
    # at once with SQLITE_BUSY when another process (the CLI, say) wrote in between.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Runs storage functions in transactions, on a single thread that owns the connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_database_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gong-db")

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction on the calling thread (for the CLI and migrations)."""
        with self.engine.begin() as connection:
            return work(connection)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction without blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.transaction, work)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()
