"""Queries on meetings, always scoped to one workspace."""

import msgspec
from sqlalchemy import Connection, Row, delete, insert, select, update

from gong_meetings.storage.tables import meetings
from gong_meetings.storage.timestamps import from_db, now, to_db
from gong_meetings.wire import Attendee, Meeting

_attendees_encoder = msgspec.json.Encoder()
_attendees_decoder = msgspec.json.Decoder(list[Attendee])


def _values(meeting: Meeting) -> dict[str, object]:
    return {
        "title": meeting.title,
        "scheduled_start": to_db(meeting.scheduled_start),
        "scheduled_end": to_db(meeting.scheduled_end),
        "organizer_email": meeting.organizer_email,
        "meeting_url": meeting.meeting_url,
        "attendees": _attendees_encoder.encode(meeting.attendees).decode("utf-8"),
        "description": meeting.description,
        "meeting_provider": meeting.meeting_provider,
        "external_meeting_id": meeting.external_meeting_id,
    }


def _meeting(row: Row[tuple[object, ...]]) -> Meeting:
    return Meeting(
        id=str(row.id),
        title=row.title,
        scheduled_start=from_db(row.scheduled_start),
        scheduled_end=from_db(row.scheduled_end),
        organizer_email=row.organizer_email,
        meeting_url=row.meeting_url,
        attendees=_attendees_decoder.decode(row.attendees),
        description=row.description,
        meeting_provider=row.meeting_provider,
        external_meeting_id=row.external_meeting_id,
    )


def insert_meeting(connection: Connection, workspace_id: int, meeting: Meeting) -> None:
    stamp = now()
    connection.execute(
        insert(meetings).values(
            id=int(meeting.id),
            workspace_id=workspace_id,
            created_at=stamp,
            updated_at=stamp,
            version=1,
            **_values(meeting),
        )
    )


def get_meeting(connection: Connection, workspace_id: int, meeting_id: int) -> Meeting | None:
    row = connection.execute(
        select(meetings).where(meetings.c.id == meeting_id, meetings.c.workspace_id == workspace_id)
    ).first()
    return None if row is None else _meeting(row)


def replace_meeting(connection: Connection, workspace_id: int, meeting: Meeting) -> None:
    connection.execute(
        update(meetings)
        .where(meetings.c.id == int(meeting.id), meetings.c.workspace_id == workspace_id)
        .values(updated_at=now(), version=meetings.c.version + 1, **_values(meeting))
    )


def delete_meeting(connection: Connection, workspace_id: int, meeting_id: int) -> bool:
    """Delete for good; False when the workspace has no such meeting."""
    result = connection.execute(
        delete(meetings).where(meetings.c.id == meeting_id, meetings.c.workspace_id == workspace_id)
    )
    return result.rowcount == 1
