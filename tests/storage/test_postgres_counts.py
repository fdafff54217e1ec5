"""On PostgreSQL, creates in one workspace run side by side: each transaction adds to its
workspace's meeting count in a shard of its own (its backend's), so no create waits for
another's commit on one count row, and the count is still exact (the sum of the shards)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.driver import fetch_all
from gong_meetings.storage.meetings import MeetingFilter
from gong_meetings.wire import Meeting
from tests.postgres import empty_tables
from tests.storage.derived_tables import assert_derived_tables_consistent
from tests.storage.test_postgres_reads import backend

START = datetime(2030, 1, 15, 10, tzinfo=UTC)
SHARDS = 64


@pytest.fixture
def database(postgres_schema: str) -> Iterator[Database]:
    empty_tables(postgres_schema)
    database = Database(postgres_schema)
    yield database
    database.close()


def a_meeting(meeting_id: int) -> Meeting:
    return Meeting(
        id=str(meeting_id),
        title="T",
        scheduled_start=START,
        scheduled_end=START + timedelta(hours=1),
        organizer_email="boss@acme.test",
        meeting_url="https://meet.example/x",
        attendees=[],
    )


def begun(database: Database, held: list[Connection]) -> Connection:
    """A connection in a transaction that `commit()` commits (the storage functions' own
    statements go to the driver, and would not begin SQLAlchemy's); put in `held`, for the
    caller to close."""
    connection = database.engine.connect()
    held.append(connection)
    connection.begin()
    return connection


def other_shard(database: Database, shard: int, held: list[Connection]) -> Connection:
    """A connection, as `begun`, whose backend adds to another shard than `shard`: two
    backends can share one (1 in 64)."""
    while True:
        connection = begun(database, held)
        if backend(connection) % SHARDS != shard:
            return connection


def shards_of(connection: Connection, workspace_id: int) -> dict[int, int]:
    sql = "SELECT shard, meetings FROM meeting_counts WHERE workspace_id = :workspace_id"
    return dict(fetch_all(connection, sql, {"workspace_id": workspace_id}))


def test_a_create_does_not_wait_for_another_uncommitted_create(database: Database) -> None:
    acme = AccountService(database).create_workspace("acme").id
    held: list[Connection] = []
    try:
        first = begun(database, held)
        assert meeting_store.insert_meeting(first, acme, a_meeting(1))  # not committed yet
        second = other_shard(database, backend(first) % SHARDS, held)
        # Waiting for the first transaction's commit is an error then, not a hang.
        second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        assert meeting_store.insert_meeting(second, acme, a_meeting(2))
        second.commit()
        first.commit()
    finally:
        for connection in held:
            connection.close()

    with database.engine.connect() as connection:
        assert meeting_store.count_meetings(connection, acme, MeetingFilter()) == 2
        assert_derived_tables_consistent(connection)


def test_a_delete_takes_the_meeting_off_the_shard_of_its_own_backend(database: Database) -> None:
    acme = AccountService(database).create_workspace("acme").id
    held: list[Connection] = []
    try:
        creator = begun(database, held)
        assert meeting_store.insert_meeting(creator, acme, a_meeting(1))
        assert meeting_store.insert_meeting(creator, acme, a_meeting(2))
        creator.commit()
        created_in = backend(creator) % SHARDS
        deleter = other_shard(database, created_in, held)
        assert meeting_store.delete_meeting(deleter, acme, 1)
        deleter.commit()

        deleted_in = backend(deleter) % SHARDS
        assert shards_of(deleter, acme) == {created_in: 2, deleted_in: -1}
        assert meeting_store.count_meetings(deleter, acme, MeetingFilter()) == 1
        assert_derived_tables_consistent(deleter)
    finally:
        for connection in held:
            connection.close()
