"""Short reads on SQLite (storage/local_reads.py): on the event loop's own thread, from one
snapshot, seeing every acknowledged write, and unable to write. Scans (`Database.scan`): the
same, on a thread of their own."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import ProgrammingError

from gong_meetings.errors import ServiceUnavailable
from gong_meetings.storage.database import Database
from gong_meetings.storage.driver import execute, fetch_all


def notes_database(path: Path, *, reads_share_turns: bool) -> Database:
    database = Database(f"sqlite:///{path}", reads_share_turns=reads_share_turns)
    database.transaction(
        lambda c: c.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    )
    return database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """As `serve` makes it: the reads of one turn of the loop share a snapshot."""
    database = notes_database(tmp_path / "reads.db", reads_share_turns=True)
    yield database
    database.close()


def add_note(note_id: int) -> Callable[[Connection], None]:
    def work(connection: Connection) -> None:
        execute(connection, "INSERT INTO notes (id, body) VALUES (:id, 'x')", {"id": note_id})

    return work


def note_ids(connection: Connection) -> list[int]:
    return [row[0] for row in fetch_all(connection, "SELECT id FROM notes ORDER BY id", {})]


async def test_a_read_sees_every_write_acknowledged_before_it(database: Database) -> None:
    for note_id in range(1, 4):
        await database.run(add_note(note_id))
        assert await database.read(note_ids) == list(range(1, note_id + 1))


async def test_reads_and_writes_run_on_the_calling_thread(database: Database) -> None:
    here = threading.get_ident()
    assert await database.read(lambda _c: threading.get_ident()) == here
    assert await database.run(lambda _c: threading.get_ident()) == here


async def test_a_scan_runs_off_the_event_loop_which_serves_meanwhile(database: Database) -> None:
    await database.run(add_note(1))
    started, release = threading.Event(), threading.Event()

    def long_count(connection: Connection) -> tuple[int, list[int], list[int]]:
        before = note_ids(connection)
        started.set()
        assert release.wait(10)  # let go by the event loop, which must be free to do it
        return threading.get_ident(), before, note_ids(connection)

    scanning = asyncio.ensure_future(database.scan(long_count))
    assert await asyncio.to_thread(started.wait, 10)
    await database.run(add_note(2))  # a write goes through meanwhile
    assert await database.read(note_ids) == [1, 2]
    release.set()
    thread, before, after = await scanning
    assert thread != threading.get_ident()
    assert before == after == [1]  # one snapshot, taken before the write


async def test_scans_take_turns_on_one_thread_of_their_own(database: Database) -> None:
    """Their connection serves one scan at a time: two at once would share its transaction."""
    await database.run(add_note(1))
    inside, most_inside = 0, 0

    def scan(connection: Connection) -> str:
        nonlocal inside, most_inside
        inside += 1
        most_inside = max(most_inside, inside)
        time.sleep(0.01)  # long enough for another scan to start, were it able to
        seen = note_ids(connection)
        inside -= 1
        assert seen == [1]
        return threading.current_thread().name

    names = await asyncio.gather(*(database.scan(scan) for _ in range(6)))
    assert most_inside == 1
    assert len(set(names)) == 1 and names[0].startswith("gong-scan"), names


async def test_a_scan_cannot_write(database: Database) -> None:
    with pytest.raises(ServiceUnavailable):
        await database.scan(add_note(1))
    assert await database.scan(note_ids) == []


async def test_a_reads_statements_see_one_snapshot(database: Database) -> None:
    await database.run(add_note(1))

    def read_twice_around_a_write(connection: Connection) -> tuple[list[int], list[int]]:
        before = note_ids(connection)
        database.transaction(add_note(2))  # another connection commits meanwhile
        return before, note_ids(connection)

    assert await database.read(read_twice_around_a_write) == ([1], [1])
    await asyncio.sleep(0)  # the next turn of the loop
    assert await database.read(note_ids) == [1, 2]


async def test_the_reads_of_one_turn_share_a_snapshot_and_the_next_turn_takes_a_new_one(
    database: Database,
) -> None:
    """A write committed elsewhere after a turn's first read is seen from the next turn on."""
    await database.run(add_note(1))
    assert await database.read(note_ids) == [1]
    database.transaction(add_note(2))  # another connection, within this turn
    assert await database.read(note_ids, one_statement=True) == [1]
    await asyncio.sleep(0)
    assert await database.read(note_ids, one_statement=True) == [1, 2]


async def test_in_process_each_read_takes_its_own_snapshot(tmp_path: Path) -> None:
    """As `create_app` makes it for a caller in the same process, who may write between two
    requests without the loop turning: a read sees a write committed just before it."""
    database = notes_database(tmp_path / "own.db", reads_share_turns=False)
    try:
        assert await database.read(note_ids, one_statement=True) == []
        database.transaction(add_note(1))  # another connection, within this turn
        assert await database.read(note_ids, one_statement=True) == [1]
        assert await database.read(note_ids) == [1]
    finally:
        database.close()


async def test_a_read_scheduled_after_an_acknowledged_write_sees_it(database: Database) -> None:
    """Tasks that read while others write, turn after turn: whatever a task saw acknowledged
    before it read is in what it reads, however the turns fall."""
    written: list[int] = []

    async def writer() -> None:
        for note_id in range(1, 41):
            await database.run(add_note(note_id))
            written.append(note_id)  # acknowledged

    async def reader() -> None:
        for _ in range(200):
            acknowledged = list(written)
            seen = await database.read(note_ids, one_statement=True)
            assert set(acknowledged) <= set(seen), (acknowledged, seen)
            await asyncio.sleep(0)

    await asyncio.gather(writer(), reader(), reader())
    assert await database.read(note_ids) == list(range(1, 41))


async def test_a_read_cannot_write(database: Database) -> None:
    with pytest.raises(ServiceUnavailable):
        await database.read(add_note(1))
    assert await database.read(note_ids) == []
    await database.run(add_note(2))
    assert await database.read(note_ids) == [2]


async def test_reads_through_sqlalchemy_and_the_driver_take_turns(database: Database) -> None:
    await database.run(add_note(1))
    through_sqlalchemy = await database.read(
        lambda c: [row[0] for row in c.exec_driver_sql("SELECT id FROM notes")]
    )
    assert through_sqlalchemy == [1]
    assert await database.read(note_ids) == [1]
    assert await database.read(lambda c: c.exec_driver_sql("SELECT count(*) FROM notes").scalar())


async def test_the_readers_connection_never_serves_a_writer_after_it(database: Database) -> None:
    """The reader's connection is query_only: after a failed read it is dropped, not pooled."""
    with pytest.raises(ServiceUnavailable):
        await database.read(add_note(1))
    database.transaction(add_note(2))  # the admin path, on a pooled connection
    assert await database.read(note_ids) == [2]


async def test_a_turns_snapshot_ends_with_the_turn(database: Database) -> None:
    """The transaction a turn's reads share is over at the start of the next turn, so the next
    read sees the next write and a checkpoint is held up for a turn at most."""
    for note_id in (1, 2):
        await database.run(add_note(note_id))
        assert await database.read(note_ids, one_statement=True) == list(range(1, note_id + 1))
        driver = await database.read(lambda c: c.connection.driver_connection, one_statement=True)
        assert driver is not None and driver.in_transaction
        await asyncio.sleep(0)
        assert not driver.in_transaction


@pytest.mark.parametrize("one_statement", [False, True])
async def test_a_failed_read_is_a_503_unless_the_fault_is_the_statements(
    database: Database, one_statement: bool
) -> None:
    """As any transaction's failure (Database._with_retries): trouble with the database is a
    503, and a statement given the wrong parameters, a bug here, is raised as it is."""
    with pytest.raises(ServiceUnavailable):
        await database.read(
            lambda c: fetch_all(c, "SELECT * FROM no_such_table", {}), one_statement=one_statement
        )
    with pytest.raises(ProgrammingError):
        await database.read(
            lambda c: fetch_all(c, "SELECT id FROM notes WHERE id = :id", {}),
            one_statement=one_statement,
        )
    await database.run(add_note(1))
    assert await database.read(note_ids, one_statement=one_statement) == [1]
