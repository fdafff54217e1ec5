"""Migration 0005 (meeting counts in shards), checked the same way on SQLite and PostgreSQL.

A database at 0004 holds one count row a workspace; upgraded, each count is the sum of its
shards, and the list's total says the same. Downgraded from head, a count kept in several
shards becomes one row with their sum.
"""

import sqlalchemy as sa

from gong_meetings.storage.database import Database
from gong_meetings.storage.meetings import MeetingFilter, count_meetings
from gong_meetings.storage.migrate import current_revision, head_revision, upgrade
from tests.storage.derived_tables import stored_counts
from tests.storage.quota_migration import downgrade_to, migrate_to
from tests.storage.reading_migration import insert_workspace
from tests.storage.schema import assert_schema_matches_tables

BEFORE = "0004"


def count_columns(database: Database) -> set[str]:
    return {c["name"] for c in sa.inspect(database.engine).get_columns("meeting_counts")}


def check_upgrade_from_0004(database: Database) -> None:
    migrate_to(database, BEFORE)
    with database.engine.begin() as connection:
        acme = insert_workspace(connection, "acme")
        globex = insert_workspace(connection, "globex")
        connection.execute(
            sa.text("INSERT INTO meeting_counts (workspace_id, meetings) VALUES (:w, :m)"),
            [{"w": acme, "m": 1234}, {"w": globex, "m": 0}],
        )

    assert upgrade(database.engine) == (BEFORE, head_revision())

    assert "shard" in count_columns(database)
    assert_schema_matches_tables(database.engine)
    with database.engine.begin() as connection:
        assert stored_counts(connection) == {acme: 1234, globex: 0}
        assert count_meetings(connection, acme, MeetingFilter()) == 1234
        shards = connection.execute(sa.text("SELECT DISTINCT shard FROM meeting_counts"))
        assert shards.scalars().all() == [0]


def check_downgrade_to_0004(database: Database) -> None:
    upgrade(database.engine)
    with database.engine.begin() as connection:
        acme = insert_workspace(connection, "acme")
        globex = insert_workspace(connection, "globex")
        connection.execute(
            sa.text(
                "INSERT INTO meeting_counts (workspace_id, shard, meetings) VALUES (:w, :s, :m)"
            ),
            # A shard can go below zero: a meeting is taken off whichever shard deletes it.
            [
                {"w": acme, "s": 0, "m": 5},
                {"w": acme, "s": 17, "m": 3},
                {"w": acme, "s": 63, "m": -2},
                {"w": globex, "s": 4, "m": 7},
            ],
        )

    downgrade_to(database, BEFORE)

    assert current_revision(database.engine) == BEFORE
    assert "shard" not in count_columns(database)
    with database.engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT workspace_id, meetings FROM meeting_counts"))
        assert sorted(tuple(row) for row in rows) == sorted([(acme, 6), (globex, 7)])
    assert upgrade(database.engine) == (BEFORE, head_revision())
    with database.engine.begin() as connection:
        assert stored_counts(connection) == {acme: 6, globex: 7}
