"""wire.ShownMeeting, which the server writes with the attendees' stored JSON passed through,
encodes to the same bytes as wire.Meeting, which clients read, for any meeting."""

from datetime import UTC, datetime

import msgspec
import pytest

from gong_meetings.storage.meetings import _values
from gong_meetings.wire import (
    GetMeetingResponse,
    ListMeetingsResponse,
    Meeting,
    MeetingAttendee,
    Records,
    ShownMeeting,
    ShownMeetingAnswer,
    ShownMeetingPage,
    encode,
)

MEETINGS = [
    Meeting(
        id="1",
        title="Bare",
        scheduled_start=datetime(2031, 3, 4, 15, tzinfo=UTC),
        scheduled_end=datetime(2031, 3, 4, 16, tzinfo=UTC),
        organizer_email="a@example.com",
        meeting_url="https://meet.example.com/1",
        attendees=[],
    ),
    Meeting(
        id="9223372036854775807",
        title='Quotes " and \\ and ünïcødé 会议',
        scheduled_start=datetime(2031, 3, 4, 15, 0, 0, 123456, tzinfo=UTC),
        scheduled_end=datetime(2031, 3, 4, 16, 30, 59, 1, tzinfo=UTC),
        organizer_email="o@example.com",
        meeting_url="https://meet.example.com/2?x=1&y=2",
        attendees=[
            MeetingAttendee(
                email_address="ana@example.com", name="Ana", response_status="Accepted"
            ),
            MeetingAttendee(email_address="bo@example.com"),
            MeetingAttendee(name="No email, 名前"),
            MeetingAttendee(),
        ],
        description="Line one\nline two\t\u2028",
        meeting_provider="Zoom",
        external_meeting_id="ext-1",
    ),
]


def shown(meeting: Meeting) -> ShownMeeting:
    """As storage.meetings reads it back: the attendees as the text storage wrote."""
    stored_attendees = _values(meeting)["attendees"]
    assert isinstance(stored_attendees, str)
    fields = {f: getattr(meeting, f) for f in meeting.__struct_fields__}
    return ShownMeeting(**fields | {"attendees": msgspec.Raw(stored_attendees)})


@pytest.mark.parametrize("meeting", MEETINGS, ids=["bare", "every-field"])
def test_a_shown_meeting_is_the_same_bytes_as_the_meeting(meeting: Meeting) -> None:
    assert encode(shown(meeting)) == encode(meeting)
    assert msgspec.json.decode(encode(shown(meeting)), type=Meeting) == meeting


def stored_json(meeting: Meeting) -> msgspec.Raw:
    """The JSON storage.meetings stores with the meeting, as it reads it back."""
    stored = _values(meeting)["shown"]
    assert isinstance(stored, str)
    return msgspec.Raw(stored)


def test_the_shown_answers_are_the_same_bytes_as_the_answers_clients_read() -> None:
    records = Records(2, 2, 0, "next-page")
    page = ListMeetingsResponse("rid", records, MEETINGS)
    shown_page = ShownMeetingPage("rid", records, [stored_json(m) for m in MEETINGS])
    assert encode(shown_page) == encode(page)
    for meeting in MEETINGS:
        answer = GetMeetingResponse("rid", meeting)
        assert encode(ShownMeetingAnswer("rid", stored_json(meeting))) == encode(answer)


@pytest.mark.parametrize(
    ("shown_type", "read_type"),
    [
        (ShownMeeting, Meeting),
        (ShownMeetingPage, ListMeetingsResponse),
        (ShownMeetingAnswer, GetMeetingResponse),
    ],
)
def test_the_shown_types_have_the_fields_of_the_types_clients_read(
    shown_type: type[msgspec.Struct], read_type: type[msgspec.Struct]
) -> None:
    """A field added to one and not the other would break the bytes above for some meeting."""

    def layout(struct: type[msgspec.Struct]) -> list[tuple[str, str, object]]:
        info = msgspec.structs.fields(struct)
        return [(f.name, f.encode_name, f.default) for f in info]

    assert layout(shown_type) == layout(read_type)
    assert shown_type.__struct_config__.omit_defaults == read_type.__struct_config__.omit_defaults
