"""Queries on meetings, always scoped to one workspace."""

import msgspec
from sqlalchemy import Connection, Row, delete, select, update

from gong_meetings.records import StoredMeeting
from gong_meetings.storage.tables import insert_or_skip, meetings
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


def insert_meeting(connection: Connection, workspace_id: int, meeting: Meeting) -> bool:
    """Store a new meeting at version 1; False when its id is taken (another process's)."""
    stamp = now()
    result = connection.execute(
        insert_or_skip(connection, meetings, ["id"])
        .values(
            id=int(meeting.id),
            workspace_id=workspace_id,
            created_at=stamp,
            updated_at=stamp,
            version=1,
            **_values(meeting),
        )
        # RETURNING, not rowcount: drivers differ in what rowcount says for a skipped row.
        .returning(meetings.c.id)
    )
    return result.first() is not None


def get_meeting(
    connection: Connection, workspace_id: int, meeting_id: int, *, for_update: bool = False
) -> StoredMeeting | None:
    """The meeting and its version; `for_update` locks the row until the transaction ends."""
    query = select(meetings).where(
        meetings.c.id == meeting_id, meetings.c.workspace_id == workspace_id
    )
    row = connection.execute(query.with_for_update() if for_update else query).first()
    return None if row is None else StoredMeeting(_meeting(row), row.version)


def replace_meeting(
    connection: Connection, workspace_id: int, meeting: Meeting, version: int
) -> int:
    """Store `meeting` over version `version`; the new version number."""
    connection.execute(
        update(meetings)
        .where(meetings.c.id == int(meeting.id), meetings.c.workspace_id == workspace_id)
        .values(updated_at=now(), version=version + 1, **_values(meeting))
    )
    return version + 1


def delete_meeting(connection: Connection, workspace_id: int, meeting_id: int) -> bool:
    """Delete for good; False when the workspace has no such meeting."""
    result = connection.execute(
        delete(meetings).where(meetings.c.id == meeting_id, meetings.c.workspace_id == workspace_id)
    )
    return result.rowcount == 1
