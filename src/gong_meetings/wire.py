"""The JSON shapes of the contract as msgspec Structs, shared by the server and the SDK.

Decoding into these types is the first half of validation: types, required fields, lengths,
counts, enums and date-times with an offset. The rules that need more than a type (email and
URL syntax, end after start, the organizer) live in `gong_meetings.service`.
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "ATTENDEES_MAX",
    "ATTENDEE_NAME_MAX",
    "DESCRIPTION_MAX",
    "EMAIL_MAX",
    "EXTERNAL_MEETING_ID_MAX",
    "PROVIDER_MAX",
    "TITLE_MAX",
    "UNSET",
    "URL_MAX",
    "Attendee",
    "BaseResponse",
    "CreateMeetingRequest",
    "ErrorResponse",
    "IntegrationStatus",
    "IntegrationStatusRequest",
    "IntegrationStatusResponse",
    "Meeting",
    "MeetingResponse",
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

Title = Annotated[str, Meta(min_length=1, max_length=TITLE_MAX)]
Description = Annotated[str, Meta(max_length=DESCRIPTION_MAX)]
Url = Annotated[str, Meta(max_length=URL_MAX)]
Email = Annotated[str, Meta(max_length=EMAIL_MAX)]
AttendeeName = Annotated[str, Meta(max_length=ATTENDEE_NAME_MAX)]
Provider = Annotated[str, Meta(max_length=PROVIDER_MAX)]
ExternalMeetingId = Annotated[str, Meta(max_length=EXTERNAL_MEETING_ID_MAX)]
# msgspec accepts naive date-times unless told otherwise; the contract needs an offset.
AwareDatetime = Annotated[datetime, Meta(tz=True)]
ResponseStatus = Literal["Accepted", "Declined", "Tentative", "NeedsAction"]
IntegrationStatus = Literal["Active", "Inactive", "Error"]


class Attendee(Struct, rename="camel", omit_defaults=True):
    email_address: Email | UnsetType = UNSET
    name: AttendeeName | UnsetType = UNSET
    response_status: ResponseStatus | UnsetType = UNSET


Attendees = Annotated[list[Attendee], Meta(max_length=ATTENDEES_MAX)]


class CreateMeetingRequest(Struct, rename="camel"):
    title: Title
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime
    organizer_email: Email
    meeting_url: Url | UnsetType = UNSET
    attendees: Attendees | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    meeting_provider: Provider | UnsetType = UNSET
    external_meeting_id: ExternalMeetingId | UnsetType = UNSET


class UpdateMeetingRequest(Struct, rename="camel", omit_defaults=True):
    title: Title | UnsetType = UNSET
    scheduled_start: AwareDatetime | UnsetType = UNSET
    scheduled_end: AwareDatetime | UnsetType = UNSET
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
    attendees: list[Attendee]
    description: str | None = None
    meeting_provider: str | None = None
    external_meeting_id: str | None = None


class MeetingResponse(Struct, rename="camel"):
    request_id: str
    meeting_id: str
    meeting: Meeting


class BaseResponse(Struct, rename="camel"):
    request_id: str


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
