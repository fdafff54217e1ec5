"""Migration 0006 (each meeting's JSON stored with it), checked the same way on SQLite and
PostgreSQL.

Upgraded, the meetings an older version stored have no JSON, and are listed from their
columns. Downgraded from head, the two columns go and the meetings stay; upgraded again, they
are listed as before.
"""

from datetime import timedelta

import msgspec
import sqlalchemy as sa

from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import current_revision, head_revision, upgrade
from gong_meetings.storage.tables import meetings
from gong_meetings.wire import Meeting
from tests.storage.quota_migration import downgrade_to, migrate_to
from tests.storage.reading_migration import START, insert_workspace, meeting_rows, old_meeting
from tests.storage.schema import assert_schema_matches_tables

BEFORE = "0005"
NEW_COLUMNS = {"shown", "shown_version"}


def meeting_columns(database: Database) -> set[str]:
    return {c["name"] for c in sa.inspect(database.engine).get_columns("meetings")}


def listed(database: Database, workspace_id: int) -> list[dict[str, object]]:
    """The workspace's first page of 10, as the response shows it."""
    _, page = database.transaction(lambda c: meeting_store.first_page(c, workspace_id, 10))
    return [msgspec.json.decode(meeting) for meeting in page.meetings]


def check_upgrade_from_0005(database: Database) -> None:
    migrate_to(database, BEFORE)
    assert not meeting_columns(database) & NEW_COLUMNS
    attendees = [{"emailAddress": "ann@x.test", "name": "Ann"}, {"name": "No address"}]
    with database.engine.begin() as connection:
        acme = insert_workspace(connection, "acme")
        connection.execute(
            sa.insert(meetings),  # the columns release 0005 writes
            [
                old_meeting(7, acme, "o@acme.test", attendees, START + timedelta(hours=1)),
                old_meeting(3, acme, "o@acme.test", [], START),
            ],
        )
    before = meeting_rows(database)

    assert upgrade(database.engine) == (BEFORE, head_revision())

    assert meeting_columns(database) >= NEW_COLUMNS
    assert_schema_matches_tables(database.engine)
    assert meeting_rows(database) == before
    assert listed(database, acme) == [
        {
            "id": "3",
            "title": "Meeting 3",
            "scheduledStart": "2030-01-15T10:00:00Z",
            "scheduledEnd": "2030-01-15T11:00:00Z",
            "organizerEmail": "o@acme.test",
            "meetingUrl": "https://meet.example/3",
            "attendees": [],
        },
        {
            "id": "7",
            "title": "Meeting 7",
            "scheduledStart": "2030-01-15T11:00:00Z",
            "scheduledEnd": "2030-01-15T12:00:00Z",
            "organizerEmail": "o@acme.test",
            "meetingUrl": "https://meet.example/7",
            "attendees": attendees,
        },
    ]


def check_downgrade_to_0005(database: Database) -> None:
    upgrade(database.engine)
    meeting = Meeting(
        id="12",
        title="Stored by this version",
        scheduled_start=START,
        scheduled_end=START + timedelta(hours=1),
        organizer_email="o@acme.test",
        meeting_url="https://meet.example/12",
        attendees=[],
        description="With its JSON",
    )
    with database.engine.begin() as connection:
        acme = insert_workspace(connection, "acme")
        assert meeting_store.insert_meeting(connection, acme, meeting)
    shown = listed(database, acme)
    assert shown == [msgspec.json.decode(msgspec.json.encode(meeting))]
    before = meeting_rows(database)

    downgrade_to(database, BEFORE)

    assert current_revision(database.engine) == BEFORE
    assert not meeting_columns(database) & NEW_COLUMNS
    assert meeting_rows(database) == before
    assert upgrade(database.engine) == (BEFORE, head_revision())
    assert listed(database, acme) == shown  # now from its columns
