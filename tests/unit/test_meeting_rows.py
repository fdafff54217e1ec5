"""A stored row read back as a meeting: each column lands in the field of its name (the
fields are filled by position, for speed)."""

from datetime import UTC, datetime

import msgspec

from gong_meetings.storage.meetings import MEETING_COLUMNS, _shown, _stored
from gong_meetings.wire import Meeting

ROW_VALUES = {
    "id": 42,
    "title": "Planning",
    "scheduled_start": "2030-01-15 10:00:00.000000",
    "scheduled_end": "2030-01-15 11:30:00.000000",
    "organizer_email": "org@example.com",
    "meeting_url": "https://meet.example.com/x",
    "attendees": '[{"emailAddress":"ana@example.com","name":"Ana"}]',
    "description": "Agenda",
    "meeting_provider": "Zoom",
    "external_meeting_id": "ext-1",
    "version": 3,
}
ROW = tuple(ROW_VALUES[column] for column in MEETING_COLUMNS)


def test_each_column_is_read_into_the_field_of_its_name() -> None:
    stored = _stored(ROW)
    assert stored.version == 3
    meeting = stored.meeting
    assert isinstance(meeting, Meeting)
    for field in meeting.__struct_fields__:
        value = getattr(meeting, field)
        if field == "id":
            assert value == "42"
        elif field.startswith("scheduled_"):
            assert value == datetime.fromisoformat(ROW_VALUES[field] + "+00:00")
            assert value.tzinfo == UTC
        elif field == "attendees":
            assert [a.email_address for a in value] == ["ana@example.com"]
        else:
            assert value == ROW_VALUES[field], field


def test_a_row_shown_from_its_columns_is_the_meetings_json() -> None:
    assert _shown(ROW).encode() == msgspec.json.encode(_stored(ROW).meeting)
