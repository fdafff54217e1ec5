"""Migration 0004 (reading meetings back), checked the same way on SQLite and PostgreSQL.

A database is built at revision 0003 and given meetings as the previous release wrote them, then
upgraded: meeting_people and meeting_counts must describe those meetings exactly. Or a database
at head, with meetings and idempotency keys, is downgraded to 0003: the new tables and index go,
and the meetings stay.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gong_meetings.config import Settings
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import current_revision, head_revision, upgrade
from gong_meetings.storage.tables import meetings, workspaces
from gong_meetings.storage.timestamps import now
from tests.helpers import ROOMY_QUOTA, app_client, meeting_body
from tests.storage.derived_tables import (
    assert_derived_tables_consistent,
    stored_counts,
    stored_people,
)
from tests.storage.quota_migration import downgrade_to, migrate_to
from tests.storage.schema import SCHEMA_TABLES, assert_schema_matches_tables

BEFORE = "0003"
NEW_TABLES = {"meeting_people", "meeting_counts", "idempotency_keys", "server_secrets"}
NEW_MEETINGS_INDEX = "ix_meetings_workspace_id_scheduled_start_id"
START = datetime(2030, 1, 15, 10, tzinfo=UTC)
# More than the migration's batch of 1,000 meetings, so that it takes several.
BULK_MEETINGS = 2_345


def insert_workspace(connection: sa.Connection, name: str) -> int:
    return int(
        connection.execute(
            sa.insert(workspaces)
            .values(name=name, auto_provision_users=False, created_at=now())
            .returning(workspaces.c.id)
        ).scalar_one()
    )


def old_meeting(
    meeting_id: int,
    workspace_id: int,
    organizer: str,
    attendees: list[dict[str, Any]],
    start: datetime = START,
) -> dict[str, Any]:
    """A meetings row as release 0003 wrote it: attendees as camelCase JSON text."""
    return {
        "id": meeting_id,
        "workspace_id": workspace_id,
        "title": f"Meeting {meeting_id}",
        "scheduled_start": start,
        "scheduled_end": start + timedelta(hours=1),
        "organizer_email": organizer,
        "meeting_url": f"https://meet.example/{meeting_id}",
        "attendees": json.dumps(attendees, separators=(",", ":")),
        "description": None,
        "meeting_provider": None,
        "external_meeting_id": None,
        "created_at": now(),
        "updated_at": now(),
        "version": 1,
    }


# The columns of meetings that revision 0003 has (0006 added the stored JSON).
OLD_COLUMNS = [column for column in meetings.c if column.name not in ("shown", "shown_version")]


def meeting_rows(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.select(*OLD_COLUMNS)))


def meetings_indexes(database: Database) -> set[str | None]:
    return {index["name"] for index in sa.inspect(database.engine).get_indexes("meetings")}


def table_names(database: Database) -> set[str]:
    return set(sa.inspect(database.engine).get_table_names())


async def check_upgrade_from_0003(database: Database, url: str) -> None:
    """Existing meetings get their people (organizer and attendees with an address, lower-cased,
    once each) and every workspace its count, 0 included; and the lists work on them."""
    migrate_to(database, BEFORE)
    assert current_revision(database.engine) == BEFORE
    assert not table_names(database) & NEW_TABLES
    assert NEW_MEETINGS_INDEX not in meetings_indexes(database)

    later = START + timedelta(days=2, minutes=30)
    with database.engine.begin() as connection:
        acme = insert_workspace(connection, "acme")
        globex = insert_workspace(connection, "globex")
        empty = insert_workspace(connection, "empty")
        bulk = insert_workspace(connection, "bulk")
        rows = [
            old_meeting(
                101,
                acme,
                "Boss@Acme.Test",
                [
                    {"emailAddress": "Ann@X.test", "name": "Ann", "responseStatus": "Accepted"},
                    {"emailAddress": "ann@x.test"},  # the same address again
                    {"name": "No address", "responseStatus": "Tentative"},
                    {"emailAddress": "BOSS@acme.test"},  # the organizer, attending too
                    {"emailAddress": "bob@y.test", "name": "Bob"},
                ],
            ),
            old_meeting(102, acme, "boss@acme.test", [], later),
            old_meeting(103, acme, "OTHER@ACME.TEST", [{"name": "Only a name"}, {}]),
            old_meeting(201, globex, "g@globex.test", [{"emailAddress": "Ann@X.Test"}], later),
        ]
        rows += [
            old_meeting(
                10_000 + i,
                bulk,
                f"o{i % 7}@bulk.test",
                [{"emailAddress": f"A{i % 13}@Bulk.test"}],
                START + timedelta(minutes=i),
            )
            for i in range(BULK_MEETINGS)
        ]
        connection.execute(sa.insert(meetings), rows)
    before = meeting_rows(database)

    assert upgrade(database.engine) == (BEFORE, head_revision())

    assert_schema_matches_tables(database.engine)
    assert NEW_MEETINGS_INDEX in meetings_indexes(database)
    assert meeting_rows(database) == before
    with database.engine.connect() as connection:
        people = [p for p in stored_people(connection) if p[3] != bulk]
        assert people == [
            (101, "ATTENDEE", "ann@x.test", acme, START),
            (101, "ATTENDEE", "bob@y.test", acme, START),
            (101, "ATTENDEE", "boss@acme.test", acme, START),
            (101, "ORGANIZER", "boss@acme.test", acme, START),
            (102, "ORGANIZER", "boss@acme.test", acme, later),
            (103, "ORGANIZER", "other@acme.test", acme, START),
            (201, "ATTENDEE", "ann@x.test", globex, later),
            (201, "ORGANIZER", "g@globex.test", globex, later),
        ]
        assert len(stored_people(connection)) == len(people) + 2 * BULK_MEETINGS
        assert stored_counts(connection) == {acme: 3, globex: 1, empty: 0, bulk: BULK_MEETINGS}
        assert_derived_tables_consistent(connection)
        # The people's start is the meeting's, to the microsecond, for the filtered walks.
        mismatched = connection.execute(
            sa.text(
                "SELECT count(*) FROM meeting_people p JOIN meetings m ON m.id = p.meeting_id"
                " WHERE p.scheduled_start <> m.scheduled_start"
            )
        ).scalar_one()
        assert mismatched == 0

    await check_lists_and_creates_on_migrated_data(database, url, acme)


async def check_lists_and_creates_on_migrated_data(database: Database, url: str, acme: int) -> None:
    """The migrated rows are what the lists read: totals, filters, and the next create."""
    accounts = AccountService(database)
    accounts.update_workspace(
        "acme",
        calls_per_second=ROOMY_QUOTA.per_second,
        calls_per_day=ROOMY_QUOTA.per_day,
    )
    accounts.add_user("acme", "boss@acme.test", "Boss")
    key = accounts.create_key("acme")
    auth = (key.access_key, key.access_key_secret)

    async with app_client(Settings(database_url=url, public_base_url="http://t")) as http:

        async def listed(**params: str) -> tuple[int, list[str]]:
            response = await http.get("/v2/meetings", params=params, auth=auth)
            assert response.status_code == 200, response.text
            body = response.json()
            return body["records"]["totalRecords"], [m["id"] for m in body["meetings"]]

        assert await listed() == (3, ["101", "103", "102"])
        assert await listed(attendeeEmail="ANN@x.test") == (1, ["101"])
        assert await listed(attendeeEmail="boss@acme.test") == (1, ["101"])
        assert await listed(organizerEmail="Boss@Acme.Test") == (2, ["101", "102"])
        assert await listed(organizerEmail="other@acme.test") == (1, ["103"])
        assert await listed(attendeeEmail="g@globex.test") == (0, [])

        created = await http.post(
            "/v2/meetings",
            json=meeting_body("Boss@Acme.Test", attendees=[{"emailAddress": "Ann@X.test"}]),
            headers={"Idempotency-Key": "after-the-upgrade"},
            auth=auth,
        )
        assert created.status_code == 201, created.text
        assert (await listed())[0] == 4
        total, found = await listed(attendeeEmail="ann@x.test")
        assert (total, found[0]) == (2, "101")

    with database.engine.connect() as connection:
        assert stored_counts(connection)[acme] == 4
        assert_derived_tables_consistent(connection)


async def check_downgrade_to_0003(database: Database, url: str) -> None:
    """Downgrading drops the new tables and the index, and keeps every meeting; upgrading
    again rebuilds the people and counts from them."""
    upgrade(database.engine)
    accounts = AccountService(database)
    accounts.create_workspace("acme", quota=ROOMY_QUOTA)
    accounts.create_workspace("empty")
    accounts.add_user("acme", "o@acme.test", "O")
    key = accounts.create_key("acme")
    auth = (key.access_key, key.access_key_secret)
    async with app_client(Settings(database_url=url, public_base_url="http://t")) as http:
        for number in range(3):
            body = meeting_body(
                "O@acme.test",
                title=f"M{number}",
                attendees=[{"emailAddress": "A@x.test"}, {"name": "N"}],
            )
            response = await http.post(
                "/v2/meetings", json=body, headers={"Idempotency-Key": f"k{number}"}, auth=auth
            )
            assert response.status_code == 201, response.text
        # A list that pages, so that the cursor secret exists too.
        assert "cursor" in (await http.get("/v2/meetings?limit=1", auth=auth)).json()["records"]
    with database.engine.connect() as connection:
        ids = {row.name: row.id for row in connection.execute(sa.select(workspaces))}
        counts = stored_counts(connection)
        assert counts.get(ids["acme"]) == 3 and counts.get(ids["empty"], 0) == 0
        assert connection.execute(sa.text("SELECT count(*) FROM idempotency_keys")).scalar() == 3
        assert connection.execute(sa.text("SELECT count(*) FROM server_secrets")).scalar_one() >= 1
    before = meeting_rows(database)
    assert len(before) == 3

    downgrade_to(database, BEFORE)

    assert current_revision(database.engine) == BEFORE
    assert table_names(database) == (SCHEMA_TABLES - NEW_TABLES) | {"alembic_version"}
    assert NEW_MEETINGS_INDEX not in meetings_indexes(database)
    assert "ix_meetings_workspace_id_id" in meetings_indexes(database)
    assert meeting_rows(database) == before

    # And up again: the people and counts are rebuilt from the meetings that stayed.
    assert upgrade(database.engine) == (BEFORE, head_revision())
    assert_schema_matches_tables(database.engine)
    assert meeting_rows(database) == before
    with database.engine.connect() as connection:
        assert stored_counts(connection) == {ids["acme"]: 3, ids["empty"]: 0}
        assert sorted({(p[1], p[2]) for p in stored_people(connection)}) == [
            ("ATTENDEE", "a@x.test"),
            ("ORGANIZER", "o@acme.test"),
        ]
        assert_derived_tables_consistent(connection)
        assert connection.execute(sa.text("SELECT count(*) FROM idempotency_keys")).scalar() == 0
