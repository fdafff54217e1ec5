"""The bad-input matrix: every malformed or invalid body gets a 400 envelope, never a 500.

Each case runs against the operations it applies to: `create` (POST /v2/meetings), `update`
(PUT /v2/meetings/{an existing id}) and `status` (POST /v2/meetings/integration-status). Field
problems must be reported by the field's JSON path, such as `attendees[2].emailAddress: ...`.
"""

import copy
import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gong_meetings.storage.tables import api_keys, meetings, users
from tests.helpers import Tenant, assert_error, connect, create_meeting, meeting_body

CREATE, UPDATE, STATUS = "create", "update", "status"
ALL = (CREATE, UPDATE, STATUS)
MEETINGS = (CREATE, UPDATE)

NESTING = 10_000
URL_PREFIX = "https://meet.acme.test/"


@pytest.fixture
async def meeting(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    """A stored meeting with every optional field set, for PUT to target."""
    body = await create_meeting(
        client,
        tenant,
        title="Stored meeting",
        meetingUrl="https://meet.acme.test/stored",
        description="Must survive every bad request",
        meetingProvider="Zoom",
        externalMeetingId="ext-1",
        attendees=[
            {"emailAddress": "ada@acme.test", "name": "Ada", "responseStatus": "Accepted"},
            {"emailAddress": "bob@acme.test", "name": "Bob", "responseStatus": "Tentative"},
        ],
    )
    meeting: dict[str, Any] = body["meeting"]
    return meeting


def valid_body(target: str, tenant: Tenant) -> dict[str, Any]:
    """A body the target accepts, which each case then breaks in one place."""
    if target == CREATE:
        return meeting_body(tenant.organizer)
    if target == UPDATE:
        return {"title": "Renamed"}
    return {"userEmail": tenant.organizer}


async def send(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    content: bytes,
) -> httpx.Response:
    if target == CREATE:
        method, path = "POST", "/v2/meetings"
    elif target == UPDATE:
        method, path = "PUT", f"/v2/meetings/{meeting['id']}"
    else:
        method, path = "POST", "/v2/meetings/integration-status"
    return await client.request(
        method,
        path,
        content=content,
        headers={"Content-Type": "application/json"},
        auth=tenant.auth,
    )


def encode(body: object) -> bytes:
    return json.dumps(body).encode("utf-8")


_PATH = re.compile(r"^(?P<field>\w+)(?:\[(?P<index>\d+)\](?:\.(?P<sub>\w+))?)?$")


def with_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with the value at `path` (`title`, `attendees[2]` or `attendees[2].name`) set.

    Attendees before the index are valid, so only the one at the index can be reported.
    """
    match = _PATH.match(path)
    assert match is not None, path
    body = copy.deepcopy(body)
    if match["index"] is None:
        body[match["field"]] = value
        return body
    index = int(match["index"])
    items: list[Any] = [
        {"emailAddress": f"guest{i}@acme.test", "name": f"Guest {i}"} for i in range(index + 1)
    ]
    if match["sub"] is None:
        items[index] = value
    else:
        items[index][match["sub"]] = value
    body[match["field"]] = items
    return body


def assert_bad(response: httpx.Response, path: str, *fragments: str) -> list[str]:
    """A 400 envelope with a message that starts with `path:` and contains each fragment."""
    errors = assert_error(response, 400)
    named = [e for e in errors if e.startswith(f"{path}: ")]
    assert named, (path, errors)
    for fragment in fragments:
        assert any(fragment in e for e in named), (fragment, named)
    return errors


def stored_state(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored meeting, user and key, exactly as the database holds them."""
    with connect(database_url) as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table))]
            for table in (meetings, users, api_keys)
        }


def count_meetings(database_url: str) -> int:
    with connect(database_url) as connection:
        return connection.execute(select(func.count()).select_from(meetings)).scalar_one()


def cases(*rows: tuple[tuple[str, ...], str, Any, str]) -> list[Any]:
    """(targets, path, value, id) rows, expanded into one pytest param per target."""
    return [
        pytest.param(target, path, value, id=f"{target}-{case_id}")
        for targets, path, value, case_id in rows
        for target in targets
    ]


# ---------------------------------------------------------------------------------------------
# Bodies that are not a JSON object at all: the problem is the body, and the message says so.


def with_raw_field(body: dict[str, Any], field: str, raw: bytes) -> bytes:
    """`body` as JSON with one more field whose value is these exact bytes."""
    return encode({**body, field: "RAW-FIELD"}).replace(b'"RAW-FIELD"', raw)


def deep_array() -> bytes:
    return b"[" * NESTING + b"]" * NESTING


def deep_object() -> bytes:
    return b'{"a":' * NESTING + b"1" + b"}" * NESTING


def raw_bodies(target: str, tenant: Tenant) -> dict[str, bytes]:
    body = valid_body(target, tenant)
    valid = encode(body)
    string_field = "title" if target != STATUS else "meetingProvider"
    template = encode(with_field(valid_body(target, tenant), string_field, "RAW-PLACEHOLDER"))

    def with_raw_string(raw: bytes) -> bytes:
        """The valid body with these exact bytes inside one string value."""
        return template.replace(b"RAW-PLACEHOLDER", raw)

    return {
        "malformed": b'{"title": , }',
        "single-quotes": b"{'title': 'x'}",
        "unquoted-key": b"{title: 1}",
        "trailing-comma": valid[:-1] + b",}",
        "truncated": valid[: len(valid) // 2],
        "truncated-string": b'{"title": "Quarterly',
        "trailing-garbage": valid + b" garbage",
        "two-objects": valid + valid,
        "invalid-utf8-ff": with_raw_string(b"\xff\xfe"),
        "invalid-utf8-overlong": with_raw_string(b"\xc0\xaf"),
        "invalid-utf8-truncated-sequence": with_raw_string(b"Caf\xc3"),
        "invalid-utf8-encoded-surrogate": with_raw_string(b"\xed\xa0\x80"),
        "lone-high-surrogate": with_raw_string(b"\\ud800"),
        "lone-low-surrogate": with_raw_string(b"\\udc00"),
        "reversed-surrogate-pair": with_raw_string(b"\\udc00\\ud800"),
        "empty": b"",
        "whitespace-only": b" \r\n\t ",
        "array": encode([valid_body(target, tenant)]),
        "empty-array": b"[]",
        "string": b'"a meeting"',
        "number": b"42",
        "boolean": b"true",
        "null": b"null",
        "nested-array-10000": deep_array(),
        "nested-object-10000": deep_object(),
        "nested-in-unknown-field-10000": with_raw_field(body, "extra", deep_array()),
        "nested-object-in-unknown-field-10000": with_raw_field(body, "extra", deep_object()),
    }


RAW_CASES = list(raw_bodies(CREATE, Tenant("acme", "organizer@acme.test", ("k", "s"))))


@pytest.mark.parametrize("case", RAW_CASES)
@pytest.mark.parametrize("target", ALL)
async def test_body_that_is_not_a_valid_json_object_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    database_url: str,
    target: str,
    case: str,
) -> None:
    count = count_meetings(database_url)
    response = await send(client, tenant, meeting, target, raw_bodies(target, tenant)[case])
    assert_bad(response, "body")
    assert count_meetings(database_url) == count


@pytest.mark.parametrize("target", MEETINGS)
async def test_deep_nesting_inside_a_known_field_names_the_field(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any], target: str
) -> None:
    for field in ("attendees", "title", "description"):
        body = valid_body(target, tenant)
        body.pop(field, None)
        content = with_raw_field(body, field, deep_array())
        response = await send(client, tenant, meeting, target, content)
        errors = assert_error(response, 400)
        # `attendees[0]: ...` names the first nested level, which is inside the field.
        assert any(re.match(rf"{field}(\[\d+\])*: ", e) for e in errors), (field, errors)


# ---------------------------------------------------------------------------------------------
# `null` where a string belongs.

ATTENDEE_STRINGS = ("attendees[0].emailAddress", "attendees[0].name", "attendees[0].responseStatus")
NULL_CASES = cases(
    *[
        (MEETINGS, path, None, path)
        for path in ("title", "scheduledStart", "scheduledEnd", "meetingUrl", "description")
    ],
    *[(MEETINGS, path, None, path) for path in ATTENDEE_STRINGS],
    *[(MEETINGS, path, None, path) for path in ("attendees", "attendees[1]")],
    ((CREATE,), "organizerEmail", None, "organizerEmail"),
    ((CREATE,), "externalMeetingId", None, "externalMeetingId"),
    ((CREATE, STATUS), "meetingProvider", None, "meetingProvider"),
    ((STATUS,), "userEmail", None, "userEmail"),
)


@pytest.mark.parametrize(("target", "path", "value"), NULL_CASES)
async def test_null_for_a_string_field_is_400_naming_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    path: str,
    value: Any,
) -> None:
    body = with_field(valid_body(target, tenant), path, value)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, path, "null")


# ---------------------------------------------------------------------------------------------
# Wrong JSON types.

WRONG_TYPE_CASES = cases(
    (MEETINGS, "title", 42, "title-number"),
    (MEETINGS, "title", True, "title-boolean"),
    (MEETINGS, "title", ["Quarterly review"], "title-array"),
    (MEETINGS, "title", {"text": "Quarterly review"}, "title-object"),
    (MEETINGS, "scheduledStart", 1_893_492_000, "scheduledStart-number"),
    (MEETINGS, "scheduledEnd", True, "scheduledEnd-boolean"),
    (MEETINGS, "scheduledEnd", {"at": "2030-01-15T11:00:00Z"}, "scheduledEnd-object"),
    (MEETINGS, "meetingUrl", {"href": "https://meet.acme.test/x"}, "meetingUrl-object"),
    (MEETINGS, "description", 3.5, "description-number"),
    (MEETINGS, "attendees", "guest@acme.test", "attendees-string"),
    (MEETINGS, "attendees", {"emailAddress": "guest@acme.test"}, "attendees-object"),
    (MEETINGS, "attendees", 3, "attendees-number"),
    (MEETINGS, "attendees[0]", "guest@acme.test", "attendee-string"),
    (MEETINGS, "attendees[2]", ["guest@acme.test"], "attendee-array"),
    (MEETINGS, "attendees[0].name", {"first": "Ada"}, "attendee-name-object"),
    (MEETINGS, "attendees[1].name", 7, "attendee-name-number"),
    (MEETINGS, "attendees[0].emailAddress", 7, "attendee-email-number"),
    (MEETINGS, "attendees[0].emailAddress", ["a@acme.test"], "attendee-email-array"),
    (MEETINGS, "attendees[0].responseStatus", ["Accepted"], "attendee-status-array"),
    ((CREATE,), "organizerEmail", ["organizer@acme.test"], "organizerEmail-array"),
    ((CREATE,), "organizerEmail", 1, "organizerEmail-number"),
    ((CREATE,), "externalMeetingId", 12345, "externalMeetingId-number"),
    ((CREATE, STATUS), "meetingProvider", 1, "meetingProvider-number"),
    ((CREATE, STATUS), "meetingProvider", {"name": "Zoom"}, "meetingProvider-object"),
    ((STATUS,), "userEmail", ["organizer@acme.test"], "userEmail-array"),
    ((STATUS,), "userEmail", False, "userEmail-boolean"),
)


@pytest.mark.parametrize(("target", "path", "value"), WRONG_TYPE_CASES)
async def test_wrong_type_is_400_naming_the_field(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    path: str,
    value: Any,
) -> None:
    body = with_field(valid_body(target, tenant), path, value)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, path, "expected")


# ---------------------------------------------------------------------------------------------
# Missing required fields (only create has any).

REQUIRED = ("title", "scheduledStart", "scheduledEnd", "organizerEmail")


@pytest.mark.parametrize("field", REQUIRED)
async def test_missing_required_field_is_400_naming_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    database_url: str,
    field: str,
) -> None:
    body = valid_body(CREATE, tenant)
    del body[field]
    response = await send(client, tenant, meeting, CREATE, encode(body))
    assert_bad(response, field, "required")
    assert count_meetings(database_url) == 1


async def test_empty_object_for_create_is_400(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any]
) -> None:
    response = await send(client, tenant, meeting, CREATE, b"{}")
    errors = assert_error(response, 400)
    assert any(e.split(":")[0] in REQUIRED for e in errors), errors


# ---------------------------------------------------------------------------------------------
# Date-times: an offset is required, the date and time must exist, and end must follow start.

NAIVE = ("2030-01-15T10:00:00", "2030-01-15T10:00:00.123456", "2030-01-15 10:00:00")
IMPOSSIBLE = (
    "2026-02-30T10:00:00Z",
    "2026-02-29T10:00:00Z",
    "2026-04-31T10:00:00Z",
    "2026-01-15T25:00:00Z",
    "2026-01-15T24:00:01Z",
    "2026-01-15T10:60:00Z",
    "2026-01-15T10:00:61Z",
    "2026-13-15T10:00:00Z",
    "2026-00-15T10:00:00Z",
    "2026-01-00T10:00:00Z",
    "2026-01-15T10:00:00+25:00",
    "0000-01-01T00:00:00Z",
)
NOT_DATES = (
    "",
    "tomorrow",
    "now",
    "2030-01-15",
    "10:00:00Z",
    "15/01/2030 10:00",
    "2030-01-15T10:00Z",
    "2030-W03-2T10:00:00Z",
)
# Valid RFC 3339 text, but the instant falls outside years 1..9999 once converted to UTC.
OUT_OF_RANGE = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59")
DATE_FIELDS = ("scheduledStart", "scheduledEnd")


@pytest.mark.parametrize("value", NAIVE)
@pytest.mark.parametrize("field", DATE_FIELDS)
@pytest.mark.parametrize("target", MEETINGS)
async def test_date_time_without_offset_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    field: str,
    value: str,
) -> None:
    body = with_field(valid_body(target, tenant), field, value)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, field, "offset")


@pytest.mark.parametrize("value", IMPOSSIBLE + NOT_DATES)
@pytest.mark.parametrize("field", DATE_FIELDS)
@pytest.mark.parametrize("target", MEETINGS)
async def test_impossible_or_non_date_time_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    field: str,
    value: str,
) -> None:
    body = with_field(valid_body(target, tenant), field, value)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, field)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("field", DATE_FIELDS)
@pytest.mark.parametrize("target", MEETINGS)
async def test_date_time_outside_the_utc_range_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    field: str,
    value: str,
) -> None:
    body = with_field(valid_body(target, tenant), field, value)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, field)


END_NOT_AFTER_START = [
    pytest.param("2030-01-15T10:00:00Z", "2030-01-15T10:00:00Z", id="equal"),
    pytest.param("2030-01-15T10:00:00Z", "2030-01-15T12:00:00+02:00", id="equal-other-offset"),
    pytest.param("2030-01-15T10:00:00.5Z", "2030-01-15T10:00:00.5Z", id="equal-fraction"),
    pytest.param("2030-01-15T10:00:00Z", "2030-01-15T09:59:59Z", id="one-second-before"),
    pytest.param("2030-01-15T10:00:00Z", "2029-01-15T11:00:00Z", id="a-year-before"),
    pytest.param("2030-01-15T11:00:00+01:00", "2030-01-15T10:30:00+02:00", id="before-by-offset"),
]


@pytest.mark.parametrize(("start", "end"), END_NOT_AFTER_START)
@pytest.mark.parametrize("target", MEETINGS)
async def test_end_not_after_start_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    database_url: str,
    target: str,
    start: str,
    end: str,
) -> None:
    body = {**valid_body(target, tenant), "scheduledStart": start, "scheduledEnd": end}
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, "scheduledEnd", "after")
    assert count_meetings(database_url) == 1


# The stored meeting runs 10:00 to 11:00 UTC; a PUT of one side must still respect the other.
PARTIAL_SCHEDULES = [
    pytest.param({"scheduledEnd": "2030-01-15T10:00:00Z"}, id="end-equals-stored-start"),
    pytest.param({"scheduledEnd": "2030-01-15T09:00:00Z"}, id="end-before-stored-start"),
    pytest.param({"scheduledStart": "2030-01-15T11:00:00Z"}, id="start-equals-stored-end"),
    pytest.param({"scheduledStart": "2030-01-15T12:00:00+00:30"}, id="start-after-stored-end"),
]


@pytest.mark.parametrize("body", PARTIAL_SCHEDULES)
async def test_partial_update_cannot_put_end_before_start(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await send(client, tenant, meeting, UPDATE, encode(body))
    errors = assert_error(response, 400)
    assert any(e.startswith(("scheduledEnd: ", "scheduledStart: ")) for e in errors), errors


# ---------------------------------------------------------------------------------------------
# Emails, URLs and bounds.

BAD_EMAILS = (
    "not-an-email",
    "organizer@",
    "@acme.test",
    "two words@acme.test",
    "organizer@@acme.test",
    "organizer@acme..test",
    "organizer@acme.test.",
    "<organizer@acme.test>",
    "",
    " ",
)


@pytest.mark.parametrize("email", BAD_EMAILS)
@pytest.mark.parametrize(
    ("target", "path"),
    [
        (CREATE, "organizerEmail"),
        (CREATE, "attendees[0].emailAddress"),
        (CREATE, "attendees[2].emailAddress"),
        (UPDATE, "attendees[2].emailAddress"),
        (STATUS, "userEmail"),
    ],
)
async def test_bad_email_is_400_naming_the_field_with_its_index(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    path: str,
    email: str,
) -> None:
    body = with_field(valid_body(target, tenant), path, email)
    response = await send(client, tenant, meeting, target, encode(body))
    errors = assert_bad(response, path, "email")
    if path.startswith("attendees[2]"):
        # The valid attendees before the bad one are not blamed.
        assert not any(e.startswith(("attendees[0]", "attendees[1]")) for e in errors), errors


@pytest.mark.parametrize("target", MEETINGS)
async def test_only_the_bad_attendees_are_blamed(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any], target: str
) -> None:
    attendees = [
        {"emailAddress": "ok@acme.test"},
        {"emailAddress": "first-bad"},
        {"name": "No email is fine"},
        {"emailAddress": "second@bad@acme.test"},
    ]
    body = {**valid_body(target, tenant), "attendees": attendees}
    response = await send(client, tenant, meeting, target, encode(body))
    errors = assert_error(response, 400)
    blamed = sorted(e.split(":")[0] for e in errors)
    assert blamed == ["attendees[1].emailAddress", "attendees[3].emailAddress"], errors


BAD_URLS = (
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://x",
    "file:///etc/passwd",
    "mailto:organizer@acme.test",
    "http://",
    "https://",
    "http:///path-only",
    "//meet.acme.test/room",
    "meet.acme.test/room",
    "not a url",
    "https://meet.acme.test/a room",
    "https://meet acme.test/",
    " https://meet.acme.test/",
    "https://meet.acme.test/\nroom",
    "https://meet.acme.test:port/",
    "http://[::1",
    "",
)


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("target", MEETINGS)
async def test_bad_meeting_url_is_400(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any], target: str, url: str
) -> None:
    body = with_field(valid_body(target, tenant), "meetingUrl", url)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, "meetingUrl")


@pytest.mark.parametrize("port", ["65536", "99999"])
@pytest.mark.parametrize("target", MEETINGS)
async def test_meeting_url_with_an_impossible_port_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    database_url: str,
    target: str,
    port: str,
) -> None:
    """TCP ports run from 1 to 65535; a URL naming another cannot be joined."""
    before = stored_state(database_url)
    body = with_field(valid_body(target, tenant), "meetingUrl", f"https://meet.acme.test:{port}/")
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, "meetingUrl")
    assert stored_state(database_url) == before


def long_email(length: int) -> str:
    domain = "@acme.test"
    return "a" * (length - len(domain)) + domain


OVER_LIMIT_CASES = cases(
    (MEETINGS, "title", "t" * 501, "title-501"),
    (MEETINGS, "title", "", "title-empty"),
    (MEETINGS, "description", "d" * 10_001, "description-10001"),
    (MEETINGS, "meetingUrl", URL_PREFIX + "r" * (2_049 - len(URL_PREFIX)), "meetingUrl-2049"),
    (MEETINGS, "attendees[0].name", "n" * 501, "attendee-name-501"),
    (MEETINGS, "attendees[3].name", "é" * 501, "attendee-name-501-non-ascii"),
    (MEETINGS, "attendees[0].emailAddress", long_email(255), "attendee-email-255"),
    (
        MEETINGS,
        "attendees",
        [{"emailAddress": f"guest{i}@acme.test"} for i in range(1_001)],
        "attendees-1001",
    ),
    ((CREATE,), "organizerEmail", long_email(255), "organizerEmail-255"),
    ((CREATE,), "externalMeetingId", "e" * 501, "externalMeetingId-501"),
    ((CREATE, STATUS), "meetingProvider", "z" * 101, "meetingProvider-101"),
    ((STATUS,), "userEmail", long_email(255), "userEmail-255"),
)


@pytest.mark.parametrize(("target", "path", "value"), OVER_LIMIT_CASES)
async def test_out_of_bounds_length_or_count_is_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    target: str,
    path: str,
    value: Any,
) -> None:
    body = with_field(valid_body(target, tenant), path, value)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, path)


@pytest.mark.parametrize("status", ["Maybe", "accepted", "ACCEPTED", "Accepted ", "", "Yes"])
@pytest.mark.parametrize("target", MEETINGS)
async def test_invalid_response_status_is_400(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any], target: str, status: str
) -> None:
    body = with_field(valid_body(target, tenant), "attendees[1].responseStatus", status)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, "attendees[1].responseStatus")


@pytest.mark.parametrize("provider", ["Skype", "Jitsi", "zoomzoom", "", "  ", "Zoom; DROP TABLE"])
@pytest.mark.parametrize("target", [CREATE, STATUS])
async def test_unknown_provider_is_400_listing_supported_ones(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting: dict[str, Any],
    database_url: str,
    target: str,
    provider: str,
) -> None:
    body = with_field(valid_body(target, tenant), "meetingProvider", provider)
    response = await send(client, tenant, meeting, target, encode(body))
    assert_bad(response, "meetingProvider", "Zoom", "Google Meet", "Microsoft Teams", "Webex")
    assert count_meetings(database_url) == 1


async def test_several_problems_get_one_message_each(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any]
) -> None:
    body = meeting_body(
        "not-an-email",
        meetingUrl="javascript:alert(1)",
        meetingProvider="Skype",
        attendees=[{"emailAddress": "ok@acme.test"}, {"emailAddress": "bad"}],
    )
    response = await send(client, tenant, meeting, CREATE, encode(body))
    errors = assert_error(response, 400)
    bad_fields = {"attendees[1].emailAddress", "meetingProvider", "meetingUrl", "organizerEmail"}
    assert sorted(e.split(":")[0] for e in errors) == sorted(bad_fields), errors


# ---------------------------------------------------------------------------------------------
# Nothing is lost or corrupted by bad requests.


def every_bad_body(target: str, tenant: Tenant) -> list[bytes]:
    bodies = list(raw_bodies(target, tenant).values())
    for params in (NULL_CASES, WRONG_TYPE_CASES, OVER_LIMIT_CASES):
        for param in params:
            param_target, path, value = param.values
            if param_target == target:
                bodies.append(encode(with_field(valid_body(target, tenant), path, value)))
    if target != STATUS:
        for value in NAIVE + IMPOSSIBLE + NOT_DATES + OUT_OF_RANGE:
            bodies.append(encode(with_field(valid_body(target, tenant), "scheduledStart", value)))
        for url in BAD_URLS:
            bodies.append(encode(with_field(valid_body(target, tenant), "meetingUrl", url)))
        for start, end in (p.values for p in END_NOT_AFTER_START):
            body = {**valid_body(target, tenant), "scheduledStart": start, "scheduledEnd": end}
            bodies.append(encode(body))
    if target == UPDATE:
        bodies.extend(encode(p.values[0]) for p in PARTIAL_SCHEDULES)
    return bodies


async def test_bad_requests_leave_stored_data_unchanged(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any], database_url: str
) -> None:
    before = stored_state(database_url)
    assert len(before["meetings"]) == 1
    sent = 0
    for target in ALL:
        for content in every_bad_body(target, tenant):
            response = await send(client, tenant, meeting, target, content)
            assert not response.is_success, (target, content[:200], response.text)
            sent += 1
    assert sent > 250
    assert stored_state(database_url) == before
    # And the API still returns the meeting exactly as it was created.
    response = await client.put(f"/v2/meetings/{meeting['id']}", json={}, auth=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["meeting"] == meeting


# ---------------------------------------------------------------------------------------------
# The bounds are inclusive: values exactly at each limit are accepted and stored whole.


def at_the_limits() -> dict[str, Any]:
    return {
        "title": "T" * 500,
        "description": "D" * 10_000,
        "meetingUrl": URL_PREFIX + "r" * (2_048 - len(URL_PREFIX)),
        "attendees": [
            {
                "emailAddress": f"guest{i}@acme.test",
                "name": ("N" * 500) if i == 0 else f"Guest {i}",
                "responseStatus": ("Accepted", "Declined", "Tentative", "NeedsAction")[i % 4],
            }
            for i in range(1_000)
        ],
    }


async def test_values_exactly_at_the_limits_are_created(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    limits = at_the_limits()
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer, **limits), auth=tenant.auth
    )
    assert response.status_code == 201, response.text[:500]
    stored = response.json()["meeting"]
    for field, value in limits.items():
        assert stored[field] == value, field
    assert len(stored["attendees"]) == 1_000


async def test_values_exactly_at_the_limits_are_accepted_by_update(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any]
) -> None:
    limits = at_the_limits()
    response = await send(client, tenant, meeting, UPDATE, encode(limits))
    assert response.status_code == 200, response.text[:500]
    stored = response.json()["meeting"]
    for field, value in limits.items():
        assert stored[field] == value, field
    # A no-op PUT reads back what was stored.
    again = await send(client, tenant, meeting, UPDATE, b"{}")
    assert again.json()["meeting"] == stored


async def test_real_edge_date_times_are_accepted_and_returned_in_utc(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The impossible-date cases fail for the right reason: real edge dates are fine."""
    meeting = await create_meeting(
        client,
        tenant,
        scheduledStart="2028-02-29T23:30:00-01:00",
        scheduledEnd="2028-02-29T23:30:00.000001-01:00",
    )
    assert meeting["meeting"]["scheduledStart"] == "2028-03-01T00:30:00Z"
    assert meeting["meeting"]["scheduledEnd"].startswith("2028-03-01T00:30:00.000001")


async def test_escaped_surrogate_pair_is_a_valid_character(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any]
) -> None:
    """The lone-surrogate cases fail for the right reason: a proper pair is accepted."""
    content = encode(meeting_body(tenant.organizer, title="PLACEHOLDER")).replace(
        b"PLACEHOLDER", b"Launch \\ud83d\\ude80"
    )
    response = await send(client, tenant, meeting, CREATE, content)
    assert response.status_code == 201, response.text
    assert response.json()["meeting"]["title"] == "Launch \U0001f680"


async def test_a_thousand_problems_are_reported_in_bounded_form(
    client: httpx.AsyncClient, tenant: Tenant, meeting: dict[str, Any]
) -> None:
    attendees = [{"emailAddress": f"bad-{i}"} for i in range(1000)]
    body = {**valid_body(CREATE, tenant), "attendees": attendees}
    response = await send(client, tenant, meeting, CREATE, encode(body))
    errors = assert_error(response, 400)
    assert len(errors) == 51, len(errors)
    assert errors[0].startswith("attendees[0].emailAddress: ")
    assert errors[-1] == "... and 950 more problems"
