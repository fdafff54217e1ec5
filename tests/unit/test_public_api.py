"""The SDK's public face (issue 7, point 7): the names `gong_meetings` exports, the typing
marker it ships, and wire types that are snake_case in Python and camelCase on the wire."""

import importlib
import importlib.metadata
import importlib.resources
import inspect
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

import gong_meetings
from gong_meetings import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    GongMeetingsError,
    IntegrationStatusResponse,
    Meeting,
    MeetingAttendee,
)

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "Conflict": 409,
    "PreconditionFailed": 412,
    "RateLimited": 429,
    "ServerError": 500,
}
PUBLIC = {
    "Client",
    "AsyncClient",
    "GongMeetingsError",
    "APIError",
    "APIConnectionError",
    "APITimeoutError",
    *ERRORS,
    "Meeting",
    "MeetingAttendee",
    "IntegrationStatusResponse",
    "__version__",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert len(gong_meetings.__all__) == len(set(gong_meetings.__all__)), "a name twice"
    assert set(gong_meetings.__all__) == PUBLIC


def test_every_public_name_is_importable_and_nothing_else_is_public() -> None:
    module = importlib.import_module("gong_meetings")
    for name in gong_meetings.__all__:
        assert getattr(module, name) is not None, name
    star: dict[str, object] = {}
    exec("from gong_meetings import *", star)  # what a star import brings
    assert set(star) - {"__builtins__"} == PUBLIC
    # Anything else the package holds is private or a submodule.
    others = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert others == PUBLIC - {"__version__"}


def test_the_version_is_the_distributions() -> None:
    assert gong_meetings.__version__ == importlib.metadata.version("gong-meetings")


def test_the_errors_form_one_tree() -> None:
    assert issubclass(APIError, GongMeetingsError)
    assert issubclass(APIConnectionError, GongMeetingsError)
    assert not issubclass(APIConnectionError, APIError)
    assert issubclass(APITimeoutError, APIConnectionError)
    for name in ERRORS:
        kind = getattr(gong_meetings, name)
        assert issubclass(kind, APIError), name
    assert len({getattr(gong_meetings, name) for name in ERRORS}) == len(ERRORS)


@pytest.mark.parametrize(("name", "status"), ERRORS.items())
def test_each_error_carries_the_answer(name: str, status: int) -> None:
    error = getattr(gong_meetings, name)(
        f"{status}: first; second",
        status_code=status,
        request_id="abcdefghij123456789",
        errors=["first", "second"],
    )
    assert (error.status_code, error.request_id, error.errors) == (
        status,
        "abcdefghij123456789",
        ["first", "second"],
    )
    assert "first" in str(error) and "second" in str(error)
    assert "abcdefghij123456789" in str(error)


def test_py_typed_ships_in_the_package() -> None:
    marker = importlib.resources.files("gong_meetings").joinpath("py.typed")
    assert marker.is_file()
    # And the build puts it in the wheel, not only in the source tree.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["gong_meetings"]


def test_an_attendee_is_snake_case_in_python_and_camel_case_on_the_wire() -> None:
    attendee = MeetingAttendee(
        email_address="bob@example.org", name="Bob", response_status="Accepted"
    )
    assert msgspec.json.encode(attendee) == (
        b'{"emailAddress":"bob@example.org","name":"Bob","responseStatus":"Accepted"}'
    )
    # Fields never given stay off the wire.
    assert msgspec.json.encode(MeetingAttendee(email_address="bob@example.org")) == (
        b'{"emailAddress":"bob@example.org"}'
    )
    assert msgspec.json.decode(b'{"emailAddress":"x@example.org"}', type=MeetingAttendee) == (
        MeetingAttendee(email_address="x@example.org")
    )


def test_a_meeting_reads_camel_case_json_into_snake_case_attributes() -> None:
    meeting = msgspec.json.decode(
        b'{"id": "42", "title": "Kickoff", "scheduledStart": "2030-01-15T12:00:00+02:00",'
        b' "scheduledEnd": "2030-01-15T11:00:00Z", "organizerEmail": "o@example.org",'
        b' "meetingUrl": "https://example.org/42",'
        b' "attendees": [{"emailAddress": "a@example.org", "responseStatus": "Tentative"}],'
        b' "meetingProvider": "Zoom", "externalMeetingId": "ext"}',
        type=Meeting,
    )
    assert meeting.scheduled_start == datetime(2030, 1, 15, 10, tzinfo=UTC)
    assert meeting.scheduled_start.tzinfo is not None
    assert meeting.scheduled_end == datetime(2030, 1, 15, 11, tzinfo=UTC)
    assert (meeting.organizer_email, meeting.meeting_url) == (
        "o@example.org",
        "https://example.org/42",
    )
    assert meeting.attendees == [
        MeetingAttendee(email_address="a@example.org", response_status="Tentative")
    ]
    assert (meeting.meeting_provider, meeting.external_meeting_id) == ("Zoom", "ext")
    assert meeting.description is None
    encoded = msgspec.json.decode(msgspec.json.encode(meeting))
    assert "organizerEmail" in encoded and "organizer_email" not in encoded
    assert "description" not in encoded  # never set, so omitted


def test_an_integration_status_reads_camel_case_json() -> None:
    status = msgspec.json.decode(
        b'{"requestId": "abcdefghij123456789", "isIntegrated": true, "status": "Active",'
        b' "details": "ok", "provider": "Zoom"}',
        type=IntegrationStatusResponse,
    )
    assert (status.request_id, status.is_integrated, status.status, status.provider) == (
        "abcdefghij123456789",
        True,
        "Active",
        "Zoom",
    )
