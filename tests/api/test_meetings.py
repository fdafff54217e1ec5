"""POST, PUT and DELETE /v2/meetings: shapes, statuses and the rules DESIGN.md decides."""

import base64
from datetime import datetime
from typing import Any

import httpx
import pytest

from gong_meetings.service.accounts import AccountService
from tests.helpers import (
    Tenant,
    assert_error,
    assert_request_id,
    create_meeting,
    make_tenant,
    meeting_body,
    stored_meetings,
)

RESPONSE_KEYS = {"requestId", "meetingId", "meeting"}
# Marked here, not only by conftest: its late marker makes anyio re-create each item and drop
# the parameters of parametrized tests.

MEETING_KEYS = {
    "id",
    "title",
    "scheduledStart",
    "scheduledEnd",
    "organizerEmail",
    "meetingUrl",
    "attendees",
}
NOT_FOUND = "meetingId: no meeting with this id exists in your workspace"
ATTENDEES = [
    {"emailAddress": "ann@example.com", "name": "Ann", "responseStatus": "Accepted"},
    {"emailAddress": "bob@example.com", "responseStatus": "Tentative"},
    {"name": "Someone without an address"},
]


async def put(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, body: Any
) -> httpx.Response:
    return await client.put(f"/v2/meetings/{meeting_id}", json=body, auth=tenant.auth)


async def delete(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth)


async def stored(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> dict[str, Any]:
    """The stored meeting, read through a `{}` PUT (a no-op by design; there is no GET)."""
    response = await put(client, tenant, meeting_id, {})
    assert response.status_code == 200, response.text
    meeting: dict[str, Any] = response.json()["meeting"]
    return meeting


def assert_meeting_response(response: httpx.Response, status: int) -> dict[str, Any]:
    """The contract's MeetingResponse, with requestId equal to the header; returns `meeting`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == RESPONSE_KEYS, body
    assert body["requestId"] == assert_request_id(response)
    assert body["meetingId"] == body["meeting"]["id"]
    meeting: dict[str, Any] = body["meeting"]
    return meeting


# --- POST /v2/meetings ------------------------------------------------------------------------


async def test_create_returns_201_with_exactly_the_contract_shape(client, tenant: Tenant) -> None:
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    meeting = assert_meeting_response(response, 201)
    assert set(meeting) == MEETING_KEYS
    assert meeting["title"] == "Quarterly review"
    assert meeting["scheduledStart"] == "2030-01-15T10:00:00Z"
    assert meeting["scheduledEnd"] == "2030-01-15T11:00:00Z"
    assert meeting["organizerEmail"] == tenant.organizer
    assert meeting["attendees"] == []


async def test_create_returns_every_field_given(client, tenant: Tenant) -> None:
    body = meeting_body(
        tenant.organizer,
        meetingUrl="https://zoom.example/j/42",
        attendees=ATTENDEES,
        description="Agenda: numbers",
        meetingProvider="Zoom",
        externalMeetingId="zoom-42",
    )
    response = await client.post("/v2/meetings", json=body, auth=tenant.auth)
    meeting = assert_meeting_response(response, 201)
    # The three optional extras are documented additions, present only when given.
    assert set(meeting) == MEETING_KEYS | {"description", "meetingProvider", "externalMeetingId"}
    assert meeting["meetingUrl"] == "https://zoom.example/j/42"
    assert meeting["attendees"] == ATTENDEES
    assert meeting["description"] == "Agenda: numbers"
    assert meeting["meetingProvider"] == "Zoom"
    assert meeting["externalMeetingId"] == "zoom-42"
    assert await stored(client, tenant, meeting["id"]) == meeting


async def test_meeting_ids_are_short_decimal_strings_that_increase(client, tenant: Tenant) -> None:
    ids = [(await create_meeting(client, tenant))["meetingId"] for _ in range(5)]
    for meeting_id in ids:
        assert isinstance(meeting_id, str)
        assert meeting_id.isascii() and meeting_id.isdigit(), meeting_id
        assert 1 <= len(meeting_id) <= 19 and not meeting_id.startswith("0"), meeting_id
    numbers = [int(i) for i in ids]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), ids


async def test_every_response_has_a_fresh_request_id(client, tenant: Tenant) -> None:
    seen = set()
    for _ in range(3):
        response = await client.post(
            "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
        )
        assert_meeting_response(response, 201)
        seen.add(response.json()["requestId"])
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("start", "end", "utc_start", "utc_end"),
    [
        (
            "2030-01-15T12:00:00+02:00",
            "2030-01-15T13:30:00+02:00",
            "2030-01-15T10:00:00Z",
            "2030-01-15T11:30:00Z",
        ),
        (
            "2030-01-15T23:30:00-05:30",
            "2030-01-16T00:30:00-05:30",
            "2030-01-16T05:00:00Z",
            "2030-01-16T06:00:00Z",
        ),
        (
            "2030-01-15T10:00:00+00:00",
            "2030-01-15T10:00:01-00:00",
            "2030-01-15T10:00:00Z",
            "2030-01-15T10:00:01Z",
        ),
    ],
)
async def test_date_times_with_offsets_are_returned_in_utc(
    client, tenant: Tenant, start: str, end: str, utc_start: str, utc_end: str
) -> None:
    meeting = (await create_meeting(client, tenant, scheduledStart=start, scheduledEnd=end))[
        "meeting"
    ]
    assert (meeting["scheduledStart"], meeting["scheduledEnd"]) == (utc_start, utc_end)
    again = await stored(client, tenant, meeting["id"])
    assert (again["scheduledStart"], again["scheduledEnd"]) == (utc_start, utc_end)


async def test_fractional_seconds_keep_the_instant(client, tenant: Tenant) -> None:
    start = "2030-01-15T12:00:00.250+02:00"
    meeting = (await create_meeting(client, tenant, scheduledStart=start))["meeting"]
    returned = (await stored(client, tenant, meeting["id"]))["scheduledStart"]
    assert returned.endswith("Z")
    assert datetime.fromisoformat(returned) == datetime.fromisoformat(start)


async def test_meeting_url_is_generated_from_the_public_base_url(client, tenant: Tenant) -> None:
    body = await create_meeting(client, tenant)
    expected = f"http://meetings.test/join/{body['meetingId']}"
    assert body["meeting"]["meetingUrl"] == expected
    assert (await stored(client, tenant, body["meetingId"]))["meetingUrl"] == expected


async def test_a_given_meeting_url_is_kept(client, tenant: Tenant) -> None:
    url = "https://meet.example.com/abc-defg-hij?pwd=1"
    body = await create_meeting(client, tenant, meetingUrl=url)
    assert body["meeting"]["meetingUrl"] == url
    assert (await stored(client, tenant, body["meetingId"]))["meetingUrl"] == url


async def test_unknown_fields_are_ignored_and_never_stored(client, tenant: Tenant) -> None:
    body = await create_meeting(
        client,
        tenant,
        id="1",
        requestId="chosen-by-client",
        secretField="do not keep",
        nested={"a": [1, 2, {"b": None}]},
        attendees=[{"emailAddress": "ann@example.com", "favouriteColour": "green"}],
    )
    assert body["meetingId"] != "1"
    assert body["requestId"] != "chosen-by-client"
    meeting = body["meeting"]
    assert set(meeting) == MEETING_KEYS
    assert meeting["attendees"] == [{"emailAddress": "ann@example.com"}]
    again = await stored(client, tenant, meeting["id"])
    assert again == meeting
    assert "do not keep" not in str(again) and "green" not in str(again)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("teams", "Microsoft Teams"),
        ("MSTeams", "Microsoft Teams"),
        ("zoom", "Zoom"),
        ("google_meet", "Google Meet"),
        ("meet", "Google Meet"),
        ("WEBEX", "Webex"),
    ],
)
async def test_meeting_provider_aliases_are_returned_canonical(
    client, tenant: Tenant, given: str, canonical: str
) -> None:
    meeting = (await create_meeting(client, tenant, meetingProvider=given))["meeting"]
    assert meeting["meetingProvider"] == canonical
    assert (await stored(client, tenant, meeting["id"]))["meetingProvider"] == canonical


async def test_create_with_an_unknown_provider_is_400(client, tenant: Tenant) -> None:
    response = await client.post(
        "/v2/meetings",
        json=meeting_body(tenant.organizer, meetingProvider="Skype"),
        auth=tenant.auth,
    )
    assert_error(response, 400, "meetingProvider", "Zoom, Google Meet, Microsoft Teams, Webex")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"scheduledEnd": "2030-01-15T10:00:00Z"}, "scheduledEnd"),
        ({"scheduledEnd": "2030-01-15T09:00:00Z"}, "scheduledEnd"),
        ({"scheduledEnd": "2030-01-15T12:00:00+02:00"}, "scheduledEnd"),  # equal instants
        ({"scheduledStart": "2030-01-15T10:00:00"}, "scheduledStart"),
        ({"title": ""}, "title"),
        ({"organizerEmail": "not-an-email"}, "organizerEmail"),
        ({"meetingUrl": "javascript:alert(1)"}, "meetingUrl"),
        ({"attendees": [{"emailAddress": "nope"}]}, "attendees[0].emailAddress"),
    ],
)
async def test_create_with_invalid_fields_is_400(
    client, tenant: Tenant, overrides: dict[str, Any], fragment: str
) -> None:
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer, **overrides), auth=tenant.auth
    )
    assert_error(response, 400, fragment)


@pytest.mark.parametrize("missing", ["title", "scheduledStart", "scheduledEnd", "organizerEmail"])
async def test_create_without_a_required_field_is_400(client, tenant: Tenant, missing: str) -> None:
    body = meeting_body(tenant.organizer)
    del body[missing]
    response = await client.post("/v2/meetings", json=body, auth=tenant.auth)
    assert_error(response, 400, f"{missing}: required field is missing")


# --- organizer ---------------------------------------------------------------------------------


async def test_organizer_must_be_a_workspace_user(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    response = await client.post(
        "/v2/meetings", json=meeting_body("stranger@acme.test"), auth=tenant.auth
    )
    errors = assert_error(
        response,
        400,
        "organizerEmail",
        "stranger@acme.test",
        "gong-meetings users add stranger@acme.test --workspace acme",
    )
    assert len(errors) == 1
    assert [u.email for u in accounts.list_users("acme")] == [tenant.organizer]


@pytest.mark.parametrize("organizer", ["ORGANIZER@ACME.TEST", "Organizer@Acme.Test"])
async def test_organizer_is_matched_case_insensitively(
    client, tenant: Tenant, accounts: AccountService, organizer: str
) -> None:
    meeting = (await create_meeting(client, tenant, organizerEmail=organizer))["meeting"]
    assert meeting["organizerEmail"].lower() == tenant.organizer
    assert [u.email for u in accounts.list_users("acme")] == [tenant.organizer]


async def test_auto_provisioning_workspace_registers_unknown_organizers(
    client, accounts: AccountService
) -> None:
    lab = make_tenant(accounts, "lab", auto_provision=True)
    meeting = (await create_meeting(client, lab, organizerEmail="New.Person@Lab.test"))["meeting"]
    assert meeting["organizerEmail"].lower() == "new.person@lab.test"
    emails = sorted(u.email for u in accounts.list_users("lab"))
    assert emails == ["new.person@lab.test", lab.organizer]
    # Registered once: the same person in another case is now simply a user.
    await create_meeting(client, lab, organizerEmail="NEW.PERSON@LAB.TEST")
    assert len(accounts.list_users("lab")) == 2


async def test_a_removed_user_can_no_longer_organize(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.remove_user("acme", tenant.organizer)
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    assert_error(response, 400, "organizerEmail", "gong-meetings users add")


# --- PUT /v2/meetings/{meetingId} ---------------------------------------------------------------


async def test_update_returns_200_with_the_contract_shape(client, tenant: Tenant) -> None:
    created = (await create_meeting(client, tenant))["meeting"]
    response = await put(client, tenant, created["id"], {"title": "Renamed"})
    meeting = assert_meeting_response(response, 200)
    assert set(meeting) == MEETING_KEYS
    assert meeting == {**created, "title": "Renamed"}


async def test_update_replaces_present_fields_and_keeps_absent_ones(client, tenant: Tenant) -> None:
    created = (
        await create_meeting(
            client,
            tenant,
            attendees=ATTENDEES,
            description="old",
            meetingProvider="zoom",
            externalMeetingId="ext-1",
        )
    )["meeting"]
    changes = {
        "title": "New title",
        "scheduledStart": "2030-02-01T09:00:00+01:00",
        "scheduledEnd": "2030-02-01T10:00:00+01:00",
        "meetingUrl": "https://teams.example/x",
        "description": "new",
    }
    meeting = assert_meeting_response(await put(client, tenant, created["id"], changes), 200)
    expected = {
        **created,
        "title": "New title",
        "scheduledStart": "2030-02-01T08:00:00Z",
        "scheduledEnd": "2030-02-01T09:00:00Z",
        "meetingUrl": "https://teams.example/x",
        "description": "new",
    }
    assert meeting == expected
    assert meeting["attendees"] == ATTENDEES
    assert meeting["meetingProvider"] == "Zoom" and meeting["externalMeetingId"] == "ext-1"
    assert await stored(client, tenant, created["id"]) == expected


@pytest.mark.parametrize("attendees", [[ATTENDEES[1]], []])
async def test_update_replaces_the_whole_attendee_list(
    client, tenant: Tenant, attendees: list[dict[str, str]]
) -> None:
    created = (await create_meeting(client, tenant, attendees=ATTENDEES))["meeting"]
    meeting = assert_meeting_response(
        await put(client, tenant, created["id"], {"attendees": attendees}), 200
    )
    assert meeting["attendees"] == attendees
    assert (await stored(client, tenant, created["id"]))["attendees"] == attendees


async def test_empty_update_is_a_no_op(client, tenant: Tenant) -> None:
    created = (await create_meeting(client, tenant, attendees=ATTENDEES, description="kept"))[
        "meeting"
    ]
    for _ in range(2):
        response = await put(client, tenant, created["id"], {})
        assert assert_meeting_response(response, 200) == created


async def test_update_ignores_fields_an_update_cannot_change(client, tenant: Tenant) -> None:
    created = (await create_meeting(client, tenant))["meeting"]
    body = {
        "id": "1",
        "organizerEmail": "someone.else@acme.test",
        "meetingProvider": "webex",
        "externalMeetingId": "sneaky",
        "unknown": {"x": 1},
    }
    meeting = assert_meeting_response(await put(client, tenant, created["id"], body), 200)
    assert meeting == created
    assert await stored(client, tenant, created["id"]) == created


@pytest.mark.parametrize(
    "body",
    [
        {"scheduledEnd": "2030-01-15T10:00:00Z"},  # equal to the stored start
        {"scheduledEnd": "2030-01-15T09:59:59Z"},  # before the stored start
        {"scheduledStart": "2030-01-15T11:00:00Z"},  # equal to the stored end
        {"scheduledStart": "2030-01-15T13:00:00+02:00"},  # after the stored end, with an offset
        {"scheduledStart": "2030-01-16T10:00:00Z", "scheduledEnd": "2030-01-16T09:00:00Z"},
    ],
)
async def test_update_that_puts_end_before_start_is_400_and_changes_nothing(
    client, tenant: Tenant, body: dict[str, str]
) -> None:
    created = (await create_meeting(client, tenant))["meeting"]
    response = await put(client, tenant, created["id"], {**body, "title": "Should not stick"})
    assert_error(response, 400, "scheduledEnd: must be after scheduledStart")
    assert await stored(client, tenant, created["id"]) == created


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"meetingUrl": "ftp://files.example/x"}, "meetingUrl"),
        ({"scheduledStart": "2030-01-15T09:00:00"}, "scheduledStart"),
        (
            {"attendees": [{"emailAddress": "ok@example.com"}, {"emailAddress": "x"}]},
            "attendees[1]",
        ),
        ({"attendees": [{"responseStatus": "Maybe"}]}, "attendees[0].responseStatus"),
    ],
)
async def test_update_with_invalid_fields_is_400_and_changes_nothing(
    client, tenant: Tenant, body: dict[str, Any], fragment: str
) -> None:
    created = (await create_meeting(client, tenant))["meeting"]
    assert_error(await put(client, tenant, created["id"], body), 400, fragment)
    assert await stored(client, tenant, created["id"]) == created


async def test_update_of_a_missing_meeting_is_404(client, tenant: Tenant) -> None:
    created = await create_meeting(client, tenant)
    missing = str(int(created["meetingId"]) + 1)
    errors = assert_error(await put(client, tenant, missing, {"title": "x"}), 404)
    assert errors == [NOT_FOUND]


# --- DELETE /v2/meetings/{meetingId} ------------------------------------------------------------


async def test_delete_returns_200_with_only_a_request_id(client, tenant: Tenant) -> None:
    created = await create_meeting(client, tenant)
    response = await delete(client, tenant, created["meetingId"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"requestId": assert_request_id(response)}


async def test_delete_is_hard(client, tenant: Tenant) -> None:
    first, second = await create_meeting(client, tenant), await create_meeting(client, tenant)
    assert (await delete(client, tenant, first["meetingId"])).status_code == 200
    assert assert_error(await delete(client, tenant, first["meetingId"]), 404) == [NOT_FOUND]
    assert assert_error(await put(client, tenant, first["meetingId"], {}), 404) == [NOT_FOUND]
    assert assert_error(await put(client, tenant, first["meetingId"], {"title": "x"}), 404)
    # Only that meeting went.
    assert await stored(client, tenant, second["meetingId"]) == second["meeting"]


async def test_delete_of_a_never_existing_meeting_is_404(client, tenant: Tenant) -> None:
    errors = assert_error(await delete(client, tenant, "1234567890123456789"), 404)
    assert errors == [NOT_FOUND]


# --- malformed ids and authentication, on every operation that takes them ----------------------

MALFORMED_IDS = ["abc", "1" * 20, "-1", "0", "00", "9" * 19, "12a", "1.5", "%20"]


@pytest.mark.parametrize("meeting_id", MALFORMED_IDS)
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_malformed_meeting_ids_are_404(
    client, tenant: Tenant, method: str, meeting_id: str
) -> None:
    await create_meeting(client, tenant)
    json = {"title": "x"} if method == "PUT" else None
    response = await client.request(
        method, f"/v2/meetings/{meeting_id}", json=json, auth=tenant.auth
    )
    assert assert_error(response, 404) == [NOT_FOUND]


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def bad_authorizations(tenant: Tenant) -> dict[str, str | None]:
    key, secret = tenant.auth
    return {
        "missing": None,
        "wrong secret": _basic(key, secret + "x"),
        "unknown key": _basic("NOSUCHKEY", secret),
        "bearer": "Bearer " + secret,
        "not base64": "Basic %%%",
    }


OPERATIONS = [
    ("POST", "/v2/meetings"),
    ("PUT", "/v2/meetings/{id}"),
    ("DELETE", "/v2/meetings/{id}"),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
async def test_bad_credentials_are_401_and_change_nothing(
    client, tenant: Tenant, method: str, path: str
) -> None:
    created = (await create_meeting(client, tenant))["meeting"]
    url = path.format(id=created["id"])
    body = meeting_body(tenant.organizer) if method == "POST" else {"title": "Hijacked"}
    messages = set()
    for name, authorization in bad_authorizations(tenant).items():
        headers = {} if authorization is None else {"Authorization": authorization}
        response = await client.request(
            method, url, json=None if method == "DELETE" else body, headers=headers
        )
        errors = assert_error(response, 401)
        bearer = authorization is not None and authorization.startswith("Bearer")
        expected = "Bearer" if bearer else "Basic"
        assert response.headers["www-authenticate"].startswith(expected), name
        messages.add(tuple(errors))
    assert len(messages) == 1, messages
    assert await stored(client, tenant, created["id"]) == created


async def test_a_revoked_key_is_401(client, accounts: AccountService) -> None:
    # A fresh key, revoked before it is ever used, so no cached check can let it through.
    make_tenant(accounts, "initech")
    key = accounts.create_key("initech")
    accounts.revoke_key(key.access_key)
    response = await client.post(
        "/v2/meetings",
        json=meeting_body("organizer@initech.test"),
        auth=(key.access_key, key.access_key_secret),
    )
    assert_error(response, 401)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("title", {"title": "Kick\u0000off"}),
        ("description", {"description": "agenda\u0000"}),
        ("externalMeetingId", {"externalMeetingId": "\u0000"}),
        ("attendees[0].name", {"attendees": [{"name": "A\u0000"}]}),
    ],
)
async def test_nul_in_free_text_is_a_400_on_every_database(
    client: httpx.AsyncClient,
    tenant: Tenant,
    database_url: str,
    field: str,
    overrides: dict[str, Any],
) -> None:
    # PostgreSQL cannot store NUL in text; SQLite could. Both refuse it, naming the field.
    created = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer, **overrides), auth=tenant.auth
    )
    assert_error(created, 400, f"{field}: must not contain the NUL character")
    existing = await create_meeting(client, tenant)
    if field != "externalMeetingId":  # not part of an update
        updated = await client.put(
            f"/v2/meetings/{existing['meetingId']}", json=overrides, auth=tenant.auth
        )
        assert_error(updated, 400, f"{field}: must not contain the NUL character")
    rows = stored_meetings(database_url)
    assert len(rows) == 1
    assert not any(isinstance(value, str) and "\x00" in value for value in rows[0])
