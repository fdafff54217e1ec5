"""The JSON shapes of the contract as msgspec Structs, shared by the server and the SDK.

Decoding into these types is the first half of validation: types, required fields, lengths,
counts, enums and date-times with an offset. The rules that need more than a type (email and
URL syntax, end after start, the organizer) live in `gong_meetings.service`.
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from gong_meetings.providers import PROVIDER_PATTERN

__all__ = [
    "ATTENDEES_MAX",
    "ATTENDEE_NAME_MAX",
    "DATETIME_PATTERN",
    "DESCRIPTION_MAX",
    "EMAIL_MAX",
    "EMAIL_PATTERN",
    "EXTERNAL_MEETING_ID_MAX",
    "PROVIDER_MAX",
    "PROVIDER_PATTERN",
    "TEXT_PATTERN",
    "TITLE_MAX",
    "UNSET",
    "URL_MAX",
    "URL_PATTERN",
    "BaseResponse",
    "CreateMeetingRequest",
    "ErrorResponse",
    "GetMeetingResponse",
    "IntegrationStatus",
    "IntegrationStatusRequest",
    "IntegrationStatusResponse",
    "ListMeetingsResponse",
    "Meeting",
    "MeetingAttendee",
    "MeetingResponse",
    "Records",
    "ResponseStatus",
    "UnsetType",
    "UpdateMeetingRequest",
]

# The bounds on every string and list a client sends. The served OpenAPI states the same numbers.
TITLE_MAX = 500
DESCRIPTION_MAX = 10_000
URL_MAX = 2_048
ATTENDEES_MAX = 1_000
EMAIL_MAX = 254
ATTENDEE_NAME_MAX = 500
PROVIDER_MAX = 100
EXTERNAL_MEETING_ID_MAX = 500

# The exact syntax each string must have. The served OpenAPI states these same patterns, so
# clients and fuzzers agree with the server on every value. They are written for JSON Schema
# (ECMA 262) and use nothing whose meaning differs in Python's `re`.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_URL_CHAR = r"[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}"
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+"
    rf"(?::{_PORT})?"
    rf"(?:/(?:{_URL_CHAR})*)*(?:\?(?:{_URL_CHAR}|[/?])*)?(?:#(?:{_URL_CHAR}|[/?])*)?$"
)
# RFC 3339 with an offset, microsecond precision, and years 1000 to 9998 so that every instant
# still has a year of four digits once converted to UTC.
DATETIME_PATTERN = (
    r"^(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)


def python_pattern(pattern: str) -> str:
    """`pattern` for Python's `re`, where `$` would also match before a final newline."""
    assert pattern.endswith("$")
    return pattern[:-1] + r"\Z"


# The contract's `format: email` adds RFC 5321's lengths to the pattern: at most 64 characters
# before the @ and 253 after it. Python's lookaheads state them; JSON Schema leaves them to the
# format.
EMAIL_PYTHON_PATTERN = r"^(?=[^@]{1,64}@[^@]{1,253}\Z)" + python_pattern(EMAIL_PATTERN)[1:]


# Free text may hold any character but NUL, which PostgreSQL cannot store in text (and which
# no meeting needs): refused alike on every database.
TEXT_PATTERN = r"^[^\u0000]*$"
_TEXT = python_pattern(TEXT_PATTERN)
Title = Annotated[str, Meta(min_length=1, max_length=TITLE_MAX, pattern=_TEXT)]
Description = Annotated[str, Meta(max_length=DESCRIPTION_MAX, pattern=_TEXT)]
Url = Annotated[str, Meta(max_length=URL_MAX, pattern=python_pattern(URL_PATTERN))]
Email = Annotated[str, Meta(max_length=EMAIL_MAX, pattern=EMAIL_PYTHON_PATTERN)]
AttendeeName = Annotated[str, Meta(max_length=ATTENDEE_NAME_MAX, pattern=_TEXT)]
Provider = Annotated[str, Meta(max_length=PROVIDER_MAX, pattern=python_pattern(PROVIDER_PATTERN))]
ExternalMeetingId = Annotated[str, Meta(max_length=EXTERNAL_MEETING_ID_MAX, pattern=_TEXT)]
# Kept as text here; the service turns it into a UTC instant (and rejects February 30th).
DateTimeText = Annotated[str, Meta(pattern=python_pattern(DATETIME_PATTERN))]
ResponseStatus = Literal["Accepted", "Declined", "Tentative", "NeedsAction"]
IntegrationStatus = Literal["Active", "Inactive", "Error"]


class MeetingAttendee(Struct, rename="camel", omit_defaults=True):
    email_address: Email | UnsetType = UNSET
    name: AttendeeName | UnsetType = UNSET
    response_status: ResponseStatus | UnsetType = UNSET


Attendees = Annotated[list[MeetingAttendee], Meta(max_length=ATTENDEES_MAX)]


class CreateMeetingRequest(Struct, rename="camel"):
    title: Title
    scheduled_start: DateTimeText
    scheduled_end: DateTimeText
    organizer_email: Email
    meeting_url: Url | UnsetType = UNSET
    attendees: Attendees | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    meeting_provider: Provider | UnsetType = UNSET
    external_meeting_id: ExternalMeetingId | UnsetType = UNSET


class UpdateMeetingRequest(Struct, rename="camel", omit_defaults=True):
    title: Title | UnsetType = UNSET
    scheduled_start: DateTimeText | UnsetType = UNSET
    scheduled_end: DateTimeText | UnsetType = UNSET
    meeting_url: Url | UnsetType = UNSET
    attendees: Attendees | UnsetType = UNSET
    description: Description | UnsetType = UNSET


class Meeting(Struct, rename="camel", omit_defaults=True):
    """A stored meeting as the API returns it. Optional fields are omitted when never set."""

    id: str
    title: str
    scheduled_start: datetime
    scheduled_end: datetime
    organizer_email: str
    meeting_url: str
    attendees: list[MeetingAttendee]
    description: str | None = None
    meeting_provider: str | None = None
    external_meeting_id: str | None = None


class MeetingResponse(Struct, rename="camel"):
    request_id: str
    meeting_id: str
    meeting: Meeting


class BaseResponse(Struct, rename="camel"):
    request_id: str


class GetMeetingResponse(Struct, rename="camel"):
    """GET /v2/meetings/{meetingId} (an addition)."""

    request_id: str
    meeting: Meeting


class Records(Struct, rename="camel"):
    """Where a page stands in a list, in Gong's shape; `cursor` only when more pages remain."""

    total_records: int
    current_page_size: int
    current_page_number: int
    cursor: str | UnsetType = UNSET


class ListMeetingsResponse(Struct, rename="camel"):
    """GET /v2/meetings (an addition)."""

    request_id: str
    records: Records
    meetings: list[Meeting]


class ShownMeeting(Struct, rename="camel", omit_defaults=True):
    """A stored meeting as the server writes it into a response: Meeting's fields in Meeting's
    order, with the attendees passed through as the JSON text they are stored as, which is
    what Meeting's encoder writes for them. Decoding them and encoding them again was a
    quarter of a list page's time. The same bytes as Meeting (tests/unit/test_wire_shown.py);
    clients, the SDK among them, read it as Meeting. Since migration 0006 a meeting's JSON is
    stored with it, and this is made only for a meeting an older version stored without."""

    id: str
    title: str
    scheduled_start: datetime
    scheduled_end: datetime
    organizer_email: str
    meeting_url: str
    attendees: msgspec.Raw
    description: str | None = None
    meeting_provider: str | None = None
    external_meeting_id: str | None = None


class ShownMeetingPage(Struct, rename="camel"):
    """ListMeetingsResponse as the server writes it: each meeting the JSON stored with it,
    which is what Meeting's encoder wrote for it (storage/meetings.py)."""

    request_id: str
    records: Records
    meetings: list[msgspec.Raw]


class ShownMeetingAnswer(Struct, rename="camel"):
    """GetMeetingResponse as the server writes it, the meeting the JSON stored with it."""

    request_id: str
    meeting: msgspec.Raw


class ErrorResponse(Struct, rename="camel"):
    request_id: str
    errors: list[str]


class IntegrationStatusRequest(Struct, rename="camel"):
    meeting_provider: Provider | UnsetType = UNSET
    user_email: Email | UnsetType = UNSET


class IntegrationStatusResponse(Struct, rename="camel", omit_defaults=True):
    request_id: str
    is_integrated: bool
    status: IntegrationStatus
    details: str
    provider: str | UnsetType = UNSET


def encode(value: object) -> bytes:
    """JSON bytes for any wire value."""
    return _encoder.encode(value)


_encoder = msgspec.json.Encoder()
