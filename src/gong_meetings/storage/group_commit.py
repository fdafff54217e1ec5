"""SQLite transactions shared by the requests that arrive together (group commit).

One thread owns the writing: it takes every piece of work waiting in its queue, runs them in
one transaction, commits once, and only then answers each request with its own outcome. So a
request still answers only after the commit that holds its rows, but a burst of requests
costs one hop to the thread, one `BEGIN IMMEDIATE` and one commit instead of one each. A
piece of work that fails is undone alone, and the others are stored (see `_run_batch`); a
commit that fails fails the whole batch, none of which was answered yet.
"""

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from gong_meetings.storage.checkpoints import Checkpointer
from gong_meetings.storage.driver import discard, end_transaction, execute, sqlite_connection

# Bounds how long one batch holds SQLite's write lock, and so the wait of the next requests.
MAX_BATCH = 64
# While another process holds the write lock, it is asked for again this often, until the
# busy timeout. SQLite's own busy handler backs off to 100 ms between tries: with two server
# processes writing, a request could wait seconds for a lock that was free most of that time.
_RETRY_LOCK_SECONDS = 0.001

Work = Callable[[Connection], Any]
_Job = tuple[Work, "asyncio.Future[Any]"]
_Outcome = tuple[bool, Any]  # (succeeded, the result or the exception)


class GroupCommitter:
    def __init__(
        self,
        engine: Engine,
        busy_timeout_seconds: float,
        max_batch: int = MAX_BATCH,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        """With a `checkpointer`, the commits here leave checkpoints to it (see there)."""
        self._engine = engine
        self._checkpointer = checkpointer
        self._busy_timeout_seconds = busy_timeout_seconds
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._connection: Connection | None = None  # the thread's own, once it has one

    async def run(self, work: Work) -> Any:
        """`work`'s result once the transaction that ran it has committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._start()
        self._jobs.put((work, future))
        return await future

    def close(self) -> None:
        """Finish the work already queued, then stop the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._checkpointer is not None:
            self._checkpointer.close()

    def _start(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="gong-db", daemon=True)
                    self._thread.start()

    def _serve(self) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                batch = [job]
                stopping = False
                while len(batch) < self._max_batch:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.append(more)
                _settle(batch, self._run([work for work, _ in batch]))
                if stopping:
                    return
        finally:
            if self._connection is not None:
                discard(self._connection)
                self._connection = None

    def _run(self, works: list[Work]) -> list[_Outcome]:
        """Each work's outcome, on the thread's connection, which is replaced after a failure
        of the transaction as a whole."""
        try:
            if self._connection is None:
                connection = self._engine.connect()
                execute(connection, "PRAGMA busy_timeout = 0", {})  # _begin_when_free waits
                if self._checkpointer is not None:
                    execute(connection, "PRAGMA wal_autocheckpoint = 0", {})
                self._connection = connection
        except Exception as error:
            return [(False, error)] * len(works)
        outcomes, failed = _run_batch(self._connection, works, self._busy_timeout_seconds)
        if failed:
            discard(self._connection)
            self._connection = None
        elif self._checkpointer is not None:
            self._checkpointer.after_commit()
        return outcomes


def _begin_when_free(connection: Connection, busy_timeout_seconds: float) -> None:
    """BEGIN IMMEDIATE, trying again while another process holds the write lock."""
    deadline = time.monotonic() + busy_timeout_seconds
    while True:
        try:
            execute(connection, "BEGIN IMMEDIATE", {})
            return
        except OperationalError as error:
            busy = getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(_RETRY_LOCK_SECONDS)


def _run_batch(
    connection: Connection, works: list[Work], busy_timeout_seconds: float
) -> tuple[list[_Outcome], bool]:
    """Each work's outcome, and whether the transaction as a whole failed.

    The works run one after another with no savepoint around each: SQLite copies every page a
    savepoint first changes, and that was a quarter of a create's time on this thread. A work
    that fails having changed no row (a 404, a 412, a refused organizer) leaves nothing to
    undo. One that fails after changing rows is the rare case: the transaction is rolled back
    and the batch run again, each other work in a savepoint of its own.

    The transaction is begun and ended through the driver: through SQLAlchemy, that cost
    270 µs, more than most requests' statements (see `driver.end_transaction`).
    """
    try:
        _begin_when_free(connection, busy_timeout_seconds)
        outcomes, spoiled = _run_in_turn(connection, works)
        if spoiled is not None:
            end_transaction(connection, "ROLLBACK")
            _begin_when_free(connection, busy_timeout_seconds)
            outcomes = [
                outcomes[spoiled] if index == spoiled else _in_savepoint(work, connection)
                for index, work in enumerate(works)
            ]
        end_transaction(connection, "COMMIT")
        return outcomes, False
    except Exception as error:  # BEGIN, the connection or the commit failed: none is stored
        with contextlib.suppress(Exception):
            end_transaction(connection, "ROLLBACK")
        return [(False, error)] * len(works), True


def _run_in_turn(connection: Connection, works: list[Work]) -> tuple[list[_Outcome], int | None]:
    """The outcomes of `works` run one after another, and the index of the first that failed
    after changing rows, if one did (the works after it have not run then)."""
    driver = sqlite_connection(connection)
    outcomes: list[_Outcome] = []
    for index, work in enumerate(works):
        # Counts every row an INSERT, UPDATE or DELETE changed, whoever sent it (SQLAlchemy or
        # the driver); a statement that failed has undone its own changes already.
        changes = driver.total_changes
        outcome = _attempt(work, connection)
        outcomes.append(outcome)
        if not outcome[0] and driver.total_changes != changes:
            return outcomes, index
    return outcomes, None


def _attempt(work: Work, connection: Connection) -> _Outcome:
    try:
        return True, work(connection)
    except Exception as error:
        return False, error


def _in_savepoint(work: Work, connection: Connection) -> _Outcome:
    execute(connection, "SAVEPOINT work", {})
    outcome = _attempt(work, connection)
    if not outcome[0]:
        execute(connection, "ROLLBACK TO work", {})
    execute(connection, "RELEASE work", {})
    return outcome


def _settle(batch: list[_Job], outcomes: list[_Outcome]) -> None:
    """Hand each outcome to its request on the request's own event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], _Outcome]]] = {}
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(future.get_loop(), []).append((future, outcome))
    for loop, settled in by_loop.items():
        # A loop that has closed has nobody waiting for these any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(settled: list[tuple["asyncio.Future[Any]", _Outcome]]) -> None:
    for future, (succeeded, value) in settled:
        if future.done():  # the request was cancelled while its work ran
            continue
        if succeeded:
            future.set_result(value)
        else:
            future.set_exception(value)
