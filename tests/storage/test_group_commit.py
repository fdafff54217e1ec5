"""Group commit on SQLite (storage/group_commit.py): the transactions that arrive together share
one commit, each still answers only after that commit, and one request's failure is its own.

The batch runs at the end of the event loop's turn, so work started in one turn is certain to
run as one batch.
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from gong_meetings.storage.database import Database
from gong_meetings.storage.driver import execute
from gong_meetings.storage.group_commit import MAX_BATCH, GroupCommitter

BATCH = 30
WAIT_SECONDS = 10.0


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/group.db")
    database.transaction(
        lambda c: (
            c.exec_driver_sql("CREATE TABLE parents (id INTEGER PRIMARY KEY)"),
            c.exec_driver_sql(
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL,"
                " parent_id INTEGER REFERENCES parents (id))"
            ),
        )
    )
    yield database
    database.close()


def add_note(note_id: int, parent_id: int | None = None) -> Callable[[Connection], int]:
    def work(connection: Connection) -> int:
        connection.exec_driver_sql(
            "INSERT INTO notes (id, body, parent_id) VALUES (?, ?, ?)",
            (note_id, f"note {note_id}", parent_id),
        )
        return note_id

    return work


def stored_ids(database: Database) -> set[int]:
    rows = database.transaction(lambda c: c.exec_driver_sql("SELECT id FROM notes").all())
    return {row[0] for row in rows}


def commits_of(database: Database) -> list[str]:
    """A list that grows by one at each COMMIT the database runs from now on, whether the
    statement comes from SQLAlchemy, the group committer or sqlite3's own commit()."""
    commits: list[str] = []

    def trace(statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            commits.append(statement)

    def on_checkout(driver_connection: sqlite3.Connection, *_: object) -> None:
        driver_connection.set_trace_callback(trace)

    sa.event.listen(database.engine, "checkout", on_checkout)
    return commits


async def as_one_batch(database: Database, works: list[Callable[[Connection], Any]]) -> list[Any]:
    """Run `works` concurrently, all started in one turn of the event loop, so that they run
    as one batch at its end. Each one's result or exception, in order."""
    return await asyncio.gather(*(database.run(work) for work in works), return_exceptions=True)


async def test_requests_that_arrive_together_share_one_commit(database: Database) -> None:
    commits = commits_of(database)
    results = await as_one_batch(database, [add_note(i) for i in range(1, BATCH + 1)])
    assert len(commits) == 1
    assert results == list(range(1, BATCH + 1))
    assert stored_ids(database) == set(range(1, BATCH + 1))


async def test_a_burst_larger_than_a_batch_takes_one_commit_per_batch(database: Database) -> None:
    commits = commits_of(database)
    burst = 2 * MAX_BATCH + 1
    results = await as_one_batch(database, [add_note(i) for i in range(1, burst + 1)])
    assert len(commits) == 3
    assert results == list(range(1, burst + 1))
    assert stored_ids(database) == set(range(1, burst + 1))


async def test_each_answer_waits_for_the_commit_that_holds_its_row(database: Database) -> None:
    """The answer comes after the COMMIT, never between the statement and the COMMIT."""
    commits = commits_of(database)
    answered: list[int] = []

    async def write(note_id: int) -> None:
        await database.run(add_note(note_id))
        answered.append(len(commits))

    await asyncio.gather(*(write(i) for i in range(1, 4)))
    assert answered == [1, 1, 1]


async def test_a_request_that_fails_rolls_back_alone(database: Database) -> None:
    def add_then_fail(connection: Connection) -> None:
        add_note(2)(connection)
        raise ValueError("refused after writing")

    first, failed, last = await as_one_batch(database, [add_note(1), add_then_fail, add_note(3)])
    assert (first, last) == (1, 3)
    assert isinstance(failed, ValueError)
    assert stored_ids(database) == {1, 3}


async def test_a_failed_commit_fails_the_whole_batch_and_stores_none_of_it(
    database: Database,
) -> None:
    def break_the_commit(connection: Connection) -> None:
        # A foreign key checked only at COMMIT: the statement succeeds, the commit cannot.
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        add_note(2, parent_id=999)(connection)

    results = await as_one_batch(database, [add_note(1), break_the_commit, add_note(3)])
    assert all(isinstance(result, sa.exc.IntegrityError) for result in results), results
    assert stored_ids(database) == set()
    # The thread and its connection carry on.
    assert await database.run(add_note(4)) == 4
    assert stored_ids(database) == {4}


async def test_close_finishes_the_work_already_queued(database: Database) -> None:
    tasks = [asyncio.ensure_future(database.run(add_note(i))) for i in range(1, 6)]
    await asyncio.sleep(0)  # queued
    await asyncio.to_thread(database.close)
    assert [await task for task in tasks] == [1, 2, 3, 4, 5]
    assert stored_ids(database) == {1, 2, 3, 4, 5}


def add_note_through_the_driver(note_id: int) -> Callable[[Connection], int]:
    """As the hot paths write: plain SQL to sqlite3, which SQLAlchemy never sees."""

    def work(connection: Connection) -> int:
        execute(connection, "INSERT INTO notes (id, body) VALUES (:id, 'x')", {"id": note_id})
        return note_id

    return work


async def test_work_through_the_driver_alone_is_committed_too(database: Database) -> None:
    commits = commits_of(database)
    assert await database.run(add_note_through_the_driver(1)) == 1
    results = await as_one_batch(
        database, [add_note_through_the_driver(2), add_note(3), add_note_through_the_driver(4)]
    )
    assert results == [2, 3, 4]
    assert len(commits) == 2  # one for the first work, one for the batch
    assert stored_ids(database) == {1, 2, 3, 4}


async def test_a_request_that_fails_alone_is_rolled_back_and_the_next_one_stored(
    database: Database,
) -> None:
    def add_then_fail(connection: Connection) -> None:
        add_note_through_the_driver(1)(connection)
        raise ValueError("refused after writing")

    with pytest.raises(ValueError, match="refused after writing"):
        await database.run(add_then_fail)
    assert await database.run(add_note_through_the_driver(2)) == 2
    assert stored_ids(database) == {2}


def hold_the_write_lock(tmp_path: Path) -> sqlite3.Connection:
    """Another process's writer, as SQLite sees it: a connection of its own in BEGIN IMMEDIATE."""
    other = sqlite3.connect(tmp_path / "group.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_write_waits_for_another_writer_and_goes_through_when_it_lets_go(
    database: Database, tmp_path: Path
) -> None:
    database.transaction(lambda c: add_note(7)(c))
    other = hold_the_write_lock(tmp_path)
    waiting = asyncio.ensure_future(database.run(add_note_through_the_driver(1)))
    # The event loop is not held up meanwhile: it keeps waking a ticker, and serving reads.
    ticks = 0
    for _ in range(30):
        await asyncio.sleep(0.01)
        ticks += 1
        assert await database.read(lambda c: c.exec_driver_sql("SELECT id FROM notes").all())
    assert ticks == 30
    assert not waiting.done()  # still asking for the lock, not failed
    other.execute("COMMIT")
    other.close()
    assert await asyncio.wait_for(waiting, WAIT_SECONDS) == 1
    assert stored_ids(database) == {1, 7}


async def test_a_write_lock_held_past_the_busy_timeout_fails_the_batch(
    database: Database, tmp_path: Path
) -> None:
    committer = GroupCommitter(database.engine, busy_timeout_seconds=0.2)
    other = hold_the_write_lock(tmp_path)
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            await committer.run(add_note_through_the_driver(1))
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The same committer writes once the lock is free.
    assert await committer.run(add_note_through_the_driver(2)) == 2
    committer.close()
    assert stored_ids(database) == {2}


async def test_the_committers_connection_never_serves_another_after_a_failed_batch(
    database: Database, tmp_path: Path
) -> None:
    """It waits for the write lock itself (busy_timeout 0): when it is replaced, it is dropped,
    not handed to the admin path, which relies on SQLite's own busy timeout."""
    committer = GroupCommitter(database.engine, busy_timeout_seconds=0.1)
    other = hold_the_write_lock(tmp_path)
    try:
        with pytest.raises(sa.exc.OperationalError):
            await committer.run(add_note_through_the_driver(1))
    finally:
        other.execute("ROLLBACK")
        other.close()
    committer.close()
    timeouts = {
        database.transaction(lambda c: c.exec_driver_sql("PRAGMA busy_timeout").scalar())
        for _ in range(3)
    }
    assert timeouts == {10_000}


def statements_of(database: Database) -> list[str]:
    """Every statement the database runs from now on, as sqlite3 traces them."""
    statements: list[str] = []

    def on_checkout(driver_connection: sqlite3.Connection, *_: object) -> None:
        driver_connection.set_trace_callback(statements.append)

    sa.event.listen(database.engine, "checkout", on_checkout)
    return statements


async def test_a_request_that_fails_before_writing_costs_the_batch_no_savepoint(
    database: Database,
) -> None:
    """Savepoints copy the pages they touch; a failure that changed nothing needs none."""
    statements = statements_of(database)

    def refuse(_connection: Connection) -> None:
        raise LookupError("no such meeting")

    results = await as_one_batch(
        database,
        [add_note_through_the_driver(1), refuse, add_note(2), add_note_through_the_driver(3)],
    )
    assert results[0] == 1 and results[2:] == [2, 3]
    assert isinstance(results[1], LookupError)
    assert stored_ids(database) == {1, 2, 3}
    assert not [s for s in statements if "SAVEPOINT" in s.upper() or "ROLLBACK" in s.upper()]


async def test_a_request_that_fails_after_writing_is_undone_and_the_rest_stored_once(
    database: Database,
) -> None:
    """The batch runs again with a savepoint each; the failed work keeps its first outcome."""
    runs: list[int] = []

    def counted(note_id: int) -> Callable[[Connection], int]:
        def work(connection: Connection) -> int:
            runs.append(note_id)
            return add_note_through_the_driver(note_id)(connection)

        return work

    def add_then_fail(connection: Connection) -> None:
        runs.append(2)
        add_note_through_the_driver(2)(connection)
        raise ValueError("refused after writing")

    results = await as_one_batch(database, [counted(1), add_then_fail, counted(3)])
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert stored_ids(database) == {1, 3}
    assert runs == [1, 2, 1, 3]  # 1 again after the rollback; the failed one not again
