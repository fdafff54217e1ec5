"""SQLite transactions shared by the requests that arrive together (group commit).

The writing runs on the event loop that asks for it, at the end of the loop's turn: the
requests that wrote in that turn run one after another in one transaction with one commit,
and each is answered with its own outcome only after that commit. So a burst of requests costs
one `BEGIN IMMEDIATE` and one commit instead of one each. A piece of work that fails is undone
alone, and the others are stored (see `_run_batch`); a commit that fails fails the whole
batch, none of which was answered yet.

It used to run on a thread of its own. But the GIL lets one thread run Python at a time, and
sqlite3 lets it go at every statement: the two threads handed it to each other several times a
request, each hand-over a futex wake-up and a context switch, and an update served a quarter
less (bench/README.md, eighth session). In WAL mode with `synchronous = NORMAL` a commit
writes to the WAL without waiting for the disk (the checkpoints, which sync, have a thread of
their own: see checkpoints), so a batch holds the loop about as long as its statements take.
While another process holds the write lock, the batch asks again every millisecond, and the
loop serves other requests in between.
"""

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from gong_meetings.storage.checkpoints import Checkpointer
from gong_meetings.storage.driver import (
    discard,
    end_transaction,
    execute,
    fetch_one,
    sqlite_connection,
)

# Bounds how long one batch holds SQLite's write lock, and the event loop.
MAX_BATCH = 64
# While another process holds the write lock, it is asked for again this often, until the
# busy timeout. SQLite's own busy handler backs off to 100 ms between tries, and would block
# the event loop while it waits.
_RETRY_LOCK_SECONDS = 0.001

Work = Callable[[Connection], Any]
_Job = tuple[Work, "asyncio.Future[Any]"]
_Outcome = tuple[bool, Any]  # (succeeded, the result or the exception)


class _WriteLockBusy(Exception):
    """BEGIN IMMEDIATE found the write lock held by another connection."""


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
        # Each event loop's work not yet run; a loop is a key while its batch is due.
        self._waiting: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        # When the write lock was first found busy for the batch now waiting for it.
        self._busy_since: float | None = None
        # One batch at a time on the one connection, should two threads' loops write.
        self._lock = threading.Lock()
        self._connection: Connection | None = None

    async def run(self, work: Work) -> Any:
        """`work`'s result once the transaction that ran it has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._commit_waiting, loop)
        waiting.append((work, future))
        return await future

    def close(self) -> None:
        """Run the work still waiting, on the calling thread, and close the connection."""
        with self._lock:
            for loop in list(self._waiting):
                waiting = self._waiting.pop(loop)
                while waiting:
                    batch, waiting = waiting[: self._max_batch], waiting[self._max_batch :]
                    _settle(batch, self._run([work for work, _ in batch], wait=True))
            self._drop_connection()
        if self._checkpointer is not None:
            self._checkpointer.close()

    def _commit_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the first batch of `loop`'s waiting work, and answer it: on `loop`, at the end
        of the turn in which the first of that work arrived."""
        with self._lock:
            waiting = self._waiting.get(loop)
            if not waiting:  # close() ran it
                self._waiting.pop(loop, None)
                return
            batch = waiting[: self._max_batch]
            try:
                outcomes = self._run([work for work, _ in batch], wait=False)
            except _WriteLockBusy:
                loop.call_later(_RETRY_LOCK_SECONDS, self._commit_waiting, loop)
                return
            del waiting[: len(batch)]
            if waiting:
                loop.call_soon(self._commit_waiting, loop)
            else:
                del self._waiting[loop]
        _resolve(list(zip((future for _, future in batch), outcomes, strict=True)))

    def _run(self, works: list[Work], *, wait: bool) -> list[_Outcome]:
        """Each work's outcome, on the committer's connection, which is replaced after a
        failure of the transaction as a whole. While another process holds the write lock,
        this waits for it if told to `wait`, and otherwise raises _WriteLockBusy until the busy
        timeout has passed."""
        try:
            if self._connection is None:
                connection = self._engine.connect()
                execute(connection, "PRAGMA busy_timeout = 0", {})  # _begin waits
                if self._checkpointer is not None:
                    execute(connection, "PRAGMA wal_autocheckpoint = 0", {})
                self._connection = connection
            if self._checkpointer is not None and self._checkpointer.restart_wanted:
                self._checkpointer.restart_wanted = False
                # What the checkpointer has not copied yet, so that this batch's first write
                # starts the WAL over (see checkpoints). A failure is the checkpointer's to log.
                with contextlib.suppress(DBAPIError):
                    fetch_one(self._connection, "PRAGMA wal_checkpoint(PASSIVE)", {})
            self._begin(self._connection, wait)
        except _WriteLockBusy:
            raise
        except Exception as error:
            self._busy_since = None
            self._drop_connection()
            return [(False, error)] * len(works)
        self._busy_since = None
        outcomes, failed = _run_batch(self._connection, works, self._busy_timeout_seconds)
        if failed:
            self._drop_connection()
        elif self._checkpointer is not None:
            self._checkpointer.after_commit()
        return outcomes

    def _drop_connection(self) -> None:
        """Drop the connection (its busy timeout is 0: no one else may have it); the next
        batch opens another."""
        if self._connection is not None:
            discard(self._connection)
            self._connection = None

    def _begin(self, connection: Connection, wait: bool) -> None:
        """BEGIN IMMEDIATE. While another process holds the write lock: with `wait`, wait for
        it; without, raise _WriteLockBusy for the caller to try again, until the busy timeout
        has passed since the lock was first found held."""
        if wait:
            _begin_when_free(connection, self._busy_timeout_seconds)
            return
        try:
            execute(connection, "BEGIN IMMEDIATE", {})
        except OperationalError as error:
            now = time.monotonic()
            if self._busy_since is None:
                self._busy_since = now
            if _is_busy(error) and now - self._busy_since < self._busy_timeout_seconds:
                raise _WriteLockBusy from error
            raise


def _is_busy(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


def _begin_when_free(connection: Connection, busy_timeout_seconds: float) -> None:
    """BEGIN IMMEDIATE, waiting while another process holds the write lock."""
    deadline = time.monotonic() + busy_timeout_seconds
    while True:
        try:
            execute(connection, "BEGIN IMMEDIATE", {})
            return
        except OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(_RETRY_LOCK_SECONDS)


def _run_batch(
    connection: Connection, works: list[Work], busy_timeout_seconds: float
) -> tuple[list[_Outcome], bool]:
    """Each work's outcome, in the transaction `connection` has begun, and whether the
    transaction as a whole failed.

    The works run one after another with no savepoint around each: SQLite copies every page a
    savepoint first changes, and that was a quarter of a create's time in the database. A work
    that fails having changed no row (a 404, a 412, a refused organizer) leaves nothing to
    undo. One that fails after changing rows is the rare case: the transaction is rolled back
    and the batch run again, each other work in a savepoint of its own.

    The transaction is begun and ended through the driver: through SQLAlchemy, that cost
    270 µs, more than most requests' statements (see `driver.end_transaction`).
    """
    try:
        outcomes, spoiled = _run_in_turn(connection, works)
        if spoiled is not None:
            end_transaction(connection, "ROLLBACK")
            # The rare case, so it waits here for a write lock that another process took.
            _begin_when_free(connection, busy_timeout_seconds)
            outcomes = [
                outcomes[spoiled] if index == spoiled else _in_savepoint(work, connection)
                for index, work in enumerate(works)
            ]
        end_transaction(connection, "COMMIT")
        return outcomes, False
    except Exception as error:  # the connection or the commit failed: none is stored
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
