"""meeting_people and meeting_counts recomputed from the meetings table, to compare with what
is stored: shared by the API, storage and migration tests, on SQLite and PostgreSQL."""

import json
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gong_meetings.storage.tables import meeting_counts, meeting_people, meetings
from gong_meetings.storage.timestamps import from_db

# (meeting_id, role, email, workspace_id, scheduled_start)
Person = tuple[int, str, str, int, datetime]


def expected_people(
    meeting_id: int,
    workspace_id: int,
    organizer: str,
    attendees: list[dict[str, Any]],
    start: datetime,
) -> set[Person]:
    """What meeting_people must hold for one meeting: its organizer, and each attendee with an
    email address, lower-cased, each (role, email) once."""
    people = {(meeting_id, "ORGANIZER", organizer.lower(), workspace_id, start)}
    people |= {
        (meeting_id, "ATTENDEE", attendee["emailAddress"].lower(), workspace_id, start)
        for attendee in attendees
        if attendee.get("emailAddress")
    }
    return people


def people_from_meetings(connection: sa.Connection) -> set[Person]:
    people: set[Person] = set()
    for row in connection.execute(sa.select(meetings)):
        people |= expected_people(
            int(row.id),
            row.workspace_id,
            row.organizer_email,
            json.loads(row.attendees),
            from_db(row.scheduled_start),
        )
    return people


def stored_people(connection: sa.Connection) -> list[Person]:
    """Every meeting_people row; a list, so that a duplicate would show."""
    return sorted(
        (int(r.meeting_id), r.role, r.email, r.workspace_id, from_db(r.scheduled_start))
        for r in connection.execute(sa.select(meeting_people))
    )


def counts_from_meetings(connection: sa.Connection) -> dict[int, int]:
    return dict(Counter(connection.execute(sa.select(meetings.c.workspace_id)).scalars()))


def stored_counts(connection: sa.Connection) -> dict[int, int]:
    """Each workspace's kept count: the sum of its shards' rows."""
    summed = sa.select(meeting_counts.c.workspace_id, sa.func.sum(meeting_counts.c.meetings))
    rows = connection.execute(summed.group_by(meeting_counts.c.workspace_id))
    return {workspace_id: int(total) for workspace_id, total in rows}


def assert_derived_tables_consistent(connection: sa.Connection) -> None:
    """meeting_people and meeting_counts describe exactly the meetings stored: a workspace
    without a count row counts as 0, and a count row without meetings must say 0."""
    people = stored_people(connection)
    assert len(people) == len(set(people)), people
    assert set(people) == people_from_meetings(connection)
    counted = counts_from_meetings(connection)
    kept = stored_counts(connection)
    for workspace_id in counted.keys() | kept.keys():
        assert kept.get(workspace_id, 0) == counted.get(workspace_id, 0), (
            workspace_id,
            kept,
            counted,
        )
