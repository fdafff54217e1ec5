"""Reading meetings back (issue 6): GET /v2/meetings/{meetingId}, and what GET /v2/meetings
lists: its order, its filters, how changes and deletions show, tenancy, scopes, the contract.

Paging and cursors are in test_listing_meetings.py. Everything runs on both databases.
"""

import itertools
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema_rs
import pytest

from gong_meetings.config import Settings
from gong_meetings.records import Quota
from gong_meetings.service.accounts import AccountService
from tests.api.meeting_lists import (
    assert_page,
    in_order,
    list_ids,
    list_page,
    store_meeting,
    walk,
)
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    assert_insufficient_scope,
    assert_request_id,
    create_meeting,
    make_tenant,
)
from tests.ratelimits import FakeClock, assert_rate_limited, bearer_token

READ = "api:meetings:user:read"
CREATE = "api:meetings:user:create"
UPDATE = "api:meetings:user:update"
DELETE = "api:meetings:user:delete"
NOT_FOUND = "meetingId: no meeting with this id exists in your workspace"
NEVER_EXISTED = "1234567890123456789"
ATTENDEES = [
    {"emailAddress": "ann@example.com", "name": "Ann", "responseStatus": "Accepted"},
    {"emailAddress": "bob@example.com", "responseStatus": "Tentative"},
    {"name": "Someone without an address"},
]


@pytest.fixture
def other(accounts: AccountService) -> Tenant:
    """A second workspace, `globex`, with its own organizer and key."""
    return make_tenant(accounts, "globex")


async def get(client: httpx.AsyncClient, meeting_id: str, **kwargs: Any) -> httpx.Response:
    return await client.get(f"/v2/meetings/{meeting_id}", **kwargs)


def assert_got(response: httpx.Response) -> dict[str, Any]:
    """A 200 GET of one meeting: exactly {requestId, meeting}; returns the meeting."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"requestId", "meeting"}, body
    assert body["requestId"] == assert_request_id(response)
    meeting: dict[str, Any] = body["meeting"]
    return meeting


def at(day: int, hour: int = 10, minute: int = 0) -> str:
    """An instant in January 2030, in the form the server returns."""
    return f"2030-01-{day:02d}T{hour:02d}:{minute:02d}:00Z"


async def meeting_at(
    client: httpx.AsyncClient, tenant: Tenant, start: str, **overrides: Any
) -> dict[str, Any]:
    """A new meeting starting at `start` (ending in 2031, so any start is before its end)."""
    body = await create_meeting(
        client, tenant, scheduledStart=start, scheduledEnd="2031-01-01T00:00:00Z", **overrides
    )
    meeting: dict[str, Any] = body["meeting"]
    return meeting


# --- GET /v2/meetings/{meetingId} --------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "meetingUrl": "https://zoom.example/j/42",
            "attendees": ATTENDEES,
            "description": "Agenda: numbers",
            "meetingProvider": "zoom",
            "externalMeetingId": "zoom-42",
            "scheduledStart": "2030-01-15T12:00:00.250+02:00",
        },
    ],
    ids=["required-fields", "every-field"],
)
async def test_get_returns_the_meeting_as_create_did(
    client: httpx.AsyncClient, tenant: Tenant, extra: dict[str, Any]
) -> None:
    created = await client.post(
        "/v2/meetings",
        json={
            "title": "Quarterly review",
            "scheduledStart": "2030-01-15T10:00:00Z",
            "scheduledEnd": "2030-01-15T11:00:00Z",
            "organizerEmail": tenant.organizer,
            **extra,
        },
        auth=tenant.auth,
    )
    assert created.status_code == 201, created.text
    response = await get(client, created.json()["meetingId"], auth=tenant.auth)
    assert assert_got(response) == created.json()["meeting"]
    assert response.headers["etag"] == created.headers["etag"] == '"1"'
    assert response.json()["requestId"] != created.json()["requestId"]


async def test_get_shows_each_update_with_its_new_etag(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    meeting_id = (await create_meeting(client, tenant))["meetingId"]
    first = await get(client, meeting_id, auth=tenant.auth)
    for version, title in ((2, "Renamed"), (3, "Renamed again")):
        # The ETag a GET gives is the one an update must match.
        current = (await get(client, meeting_id, auth=tenant.auth)).headers["etag"]
        updated = await client.put(
            f"/v2/meetings/{meeting_id}",
            json={"title": title, "attendees": [{"emailAddress": "new@example.com"}]},
            headers={"If-Match": current},
            auth=tenant.auth,
        )
        assert updated.status_code == 200, updated.text
        response = await get(client, meeting_id, auth=tenant.auth)
        meeting = assert_got(response)
        assert meeting == updated.json()["meeting"]
        assert meeting["title"] == title
        assert meeting["attendees"] == [{"emailAddress": "new@example.com"}]
        assert response.headers["etag"] == updated.headers["etag"] == f'"{version}"'
    stale = await client.put(
        f"/v2/meetings/{meeting_id}",
        json={"title": "Lost update"},
        headers={"If-Match": first.headers["etag"]},
        auth=tenant.auth,
    )
    assert_error(stale, 412, "If-Match")
    assert assert_got(await get(client, meeting_id, auth=tenant.auth))["title"] == "Renamed again"


@pytest.mark.parametrize(
    "meeting_id",
    [
        NEVER_EXISTED,
        "abc",
        "12345678901234567890",  # 20 digits
        "99999999999999999999999999999999",
        "9223372036854775808",  # 2**63: 19 digits, past the largest id
        "0",
        "-1",
        "1e3",
        "12.0",
        "%20",
        "\uff11\uff12",  # full-width digits
        "00000000000000000001",
    ],
)
async def test_a_missing_or_impossible_id_is_404(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    await create_meeting(client, tenant)
    response = await get(client, meeting_id, auth=tenant.auth)
    errors = assert_error(response, 404, NOT_FOUND)
    assert errors == [NOT_FOUND]
    assert "etag" not in response.headers


async def test_another_workspaces_meeting_is_404_like_a_missing_one(
    client: httpx.AsyncClient, tenant: Tenant, other: Tenant
) -> None:
    theirs = (await create_meeting(client, other, organizerEmail=other.organizer))["meetingId"]
    foreign = await get(client, theirs, auth=tenant.auth)
    missing = await get(client, NEVER_EXISTED, auth=tenant.auth)
    assert assert_error(foreign, 404) == assert_error(missing, 404) == [NOT_FOUND]
    assert foreign.headers.keys() - {"x-request-id"} == missing.headers.keys() - {"x-request-id"}
    # It is there, for its own workspace.
    assert assert_got(await get(client, theirs, auth=other.auth))["id"] == theirs


async def test_a_deleted_meeting_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    meeting_id = (await create_meeting(client, tenant))["meetingId"]
    assert (await get(client, meeting_id, auth=tenant.auth)).status_code == 200
    deleted = await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth)
    assert deleted.status_code == 200, deleted.text
    assert assert_error(await get(client, meeting_id, auth=tenant.auth), 404) == [NOT_FOUND]


async def test_get_needs_credentials(client: httpx.AsyncClient, tenant: Tenant) -> None:
    meeting_id = (await create_meeting(client, tenant))["meetingId"]
    assert_error(await get(client, meeting_id), 401)
    assert_error(await get(client, meeting_id, auth=(tenant.auth[0], "wrong")), 401)
    assert_error(await client.get("/v2/meetings"), 401)


async def test_get_on_integration_status_is_still_405(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get("/v2/meetings/integration-status", auth=tenant.auth)
    assert_error(response, 405)
    assert response.headers["allow"] == "POST"


# --- the read scope ----------------------------------------------------------------------------


@pytest.mark.parametrize("scopes", [CREATE, f"{CREATE} {UPDATE} {DELETE}"])
async def test_a_token_without_the_read_scope_cannot_read(
    client: httpx.AsyncClient, tenant: Tenant, scopes: str
) -> None:
    meeting_id = (await create_meeting(client, tenant))["meetingId"]
    token = await bearer_token(client, tenant.auth, scopes)
    assert_insufficient_scope(await get(client, meeting_id, headers=token), READ)
    assert_insufficient_scope(await client.get("/v2/meetings", headers=token), READ)
    # Not even whether an id exists shows.
    assert_insufficient_scope(await get(client, NEVER_EXISTED, headers=token), READ)


async def test_a_token_with_the_read_scope_reads_and_does_nothing_else(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create_meeting(client, tenant)
    meeting_id = created["meetingId"]
    token = await bearer_token(client, tenant.auth, READ)
    assert assert_got(await get(client, meeting_id, headers=token)) == created["meeting"]
    body = await list_page(client, None, headers=token)
    assert body["meetings"] == [created["meeting"]]
    assert_insufficient_scope(await create_meeting_with(client, tenant, token), CREATE)
    renamed = await client.put(f"/v2/meetings/{meeting_id}", json={"title": "X"}, headers=token)
    assert_insufficient_scope(renamed, UPDATE)
    assert_insufficient_scope(
        await client.delete(f"/v2/meetings/{meeting_id}", headers=token), DELETE
    )
    assert assert_got(await get(client, meeting_id, headers=token)) == created["meeting"]


async def create_meeting_with(
    client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str]
) -> httpx.Response:
    body = {
        "title": "T",
        "scheduledStart": at(15),
        "scheduledEnd": at(16),
        "organizerEmail": tenant.organizer,
    }
    return await client.post("/v2/meetings", json=body, headers=headers)


async def test_a_full_token_reads_only_its_own_workspace(
    client: httpx.AsyncClient, tenant: Tenant, other: Tenant
) -> None:
    ours = await create_meeting(client, tenant)
    theirs = await create_meeting(client, other, organizerEmail=other.organizer)
    token = await bearer_token(client, tenant.auth)
    assert assert_got(await get(client, ours["meetingId"], headers=token)) == ours["meeting"]
    assert_error(await get(client, theirs["meetingId"], headers=token), 404, NOT_FOUND)
    assert (await list_page(client, None, headers=token))["meetings"] == [ours["meeting"]]


async def test_reads_are_charged_to_the_rate_limit(
    accounts: AccountService, settings: Settings
) -> None:
    clock = FakeClock()
    tenant = make_tenant(accounts, "tight", quota=Quota(per_second=3, per_day=10_000))
    async with app_client(settings, clock=clock) as client:
        meeting_id = (await create_meeting(client, tenant))["meetingId"]
        clock.advance(1)
        assert (await get(client, meeting_id, auth=tenant.auth)).status_code == 200
        assert (await client.get("/v2/meetings", auth=tenant.auth)).status_code == 200
        assert (await get(client, meeting_id, auth=tenant.auth)).status_code == 200
        assert_rate_limited(await client.get("/v2/meetings", auth=tenant.auth), 1, "per second")
        assert_rate_limited(await get(client, meeting_id, auth=tenant.auth), 1, "per second")
        clock.advance(1)
        assert (await client.get("/v2/meetings", auth=tenant.auth)).status_code == 200


# --- GET /v2/meetings: shape and order ---------------------------------------------------------


async def test_an_empty_workspace_lists_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = await list_page(client, tenant.auth)
    assert body["meetings"] == []
    assert body["records"] == {"totalRecords": 0, "currentPageSize": 0, "currentPageNumber": 0}


async def test_listed_meetings_are_exactly_what_get_returns(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = [
        (await create_meeting(client, tenant, scheduledStart=at(15, 9)))["meeting"],
        (
            await create_meeting(
                client,
                tenant,
                attendees=ATTENDEES,
                description="d",
                meetingProvider="Zoom",
                externalMeetingId="e",
            )
        )["meeting"],
    ]
    body = await list_page(client, tenant.auth)
    assert body["records"] == {"totalRecords": 2, "currentPageSize": 2, "currentPageNumber": 0}
    assert body["meetings"] == made
    for meeting in body["meetings"]:
        assert assert_got(await get(client, meeting["id"], auth=tenant.auth)) == meeting


async def test_meetings_are_ordered_by_start_then_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Created out of order, with three sharing one start and two sharing another, and one
    # given with an offset: its instant, not its text, decides its place.
    starts = [
        at(20),
        at(10),
        at(15),
        at(10),
        "2030-01-15T12:00:00+02:00",  # the same instant as at(15)
        at(1),
        at(15),
        "2030-01-10T09:59:59.999999Z",
        at(10),
    ]
    made = [await meeting_at(client, tenant, start) for start in starts]
    expected = in_order(made)
    assert await list_ids(client, tenant.auth) == expected
    ids_at_15 = [m["id"] for m in made if m["scheduledStart"] == at(15)]
    assert len(ids_at_15) == 3
    # Within one start, ids ascend; page by page the order is the same.
    walked, _ = await walk(client, tenant.auth, {"limit": 2})
    assert [m["id"] for m in walked] == expected
    positions = [expected.index(i) for i in ids_at_15]
    assert positions == sorted(positions)
    assert [int(i) for i in ids_at_15] == sorted(int(i) for i in ids_at_15)


async def test_equal_starts_order_by_the_id_as_a_number(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    """As text, "10" < "100" < "9"; as numbers 9 < 10 < 100."""
    start = datetime(2030, 1, 15, 10, tzinfo=UTC)
    made = [
        store_meeting(database_url, "acme", number, start, tenant.organizer)
        for number in (100, 9, 10**18, 10, 99)
    ]
    made.append(
        store_meeting(
            database_url, "acme", 5_000, datetime(2030, 1, 15, 9, tzinfo=UTC), tenant.organizer
        )
    )
    expected = ["5000", "9", "10", "99", "100", "1000000000000000000"]
    assert await list_ids(client, tenant.auth) == expected
    for limit in (1, 2, 4):
        walked, _ = await walk(client, tenant.auth, {"limit": limit})
        assert [m["id"] for m in walked] == expected, limit
    assert len(made) == len(expected)


# --- filters -----------------------------------------------------------------------------------


BOUNDARY_STARTS = {
    "before": "2030-01-15T09:59:59Z",
    "at": "2030-01-15T10:00:00Z",
    "micro": "2030-01-15T10:00:00.000001Z",
    "mid": "2030-01-15T10:30:00Z",
    "end": "2030-01-15T11:00:00Z",
    "after": "2030-01-15T11:00:01Z",
}


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"fromDateTime": "2030-01-15T10:00:00Z"}, ["at", "micro", "mid", "end", "after"]),
        ({"toDateTime": "2030-01-15T10:00:00Z"}, ["before"]),
        (
            {"fromDateTime": "2030-01-15T10:00:00Z", "toDateTime": "2030-01-15T11:00:00Z"},
            ["at", "micro", "mid"],
        ),
        # Offsets name the same instants.
        (
            {
                "fromDateTime": "2030-01-15T12:00:00+02:00",
                "toDateTime": "2030-01-15T05:00:00-06:00",
            },
            ["at", "micro", "mid"],
        ),
        ({"fromDateTime": "2030-01-15T10:00:00.000001Z"}, ["micro", "mid", "end", "after"]),
        ({"fromDateTime": "2030-01-15T10:00:00.000002Z"}, ["mid", "end", "after"]),
        ({"toDateTime": "2030-01-15T10:00:00.000001Z"}, ["before", "at"]),
        ({"toDateTime": "2030-01-15T11:00:00.5Z"}, ["before", "at", "micro", "mid", "end"]),
        (
            {"fromDateTime": "2030-01-15T11:00:00Z", "toDateTime": "2030-01-15T11:00:01Z"},
            ["end"],
        ),
        ({"fromDateTime": "2030-01-15T11:00:02Z"}, []),
        ({"toDateTime": "2030-01-15T09:59:59Z"}, []),
    ],
)
async def test_from_is_inclusive_and_to_is_exclusive(
    client: httpx.AsyncClient, tenant: Tenant, window: dict[str, str], expected: list[str]
) -> None:
    made = {
        name: await meeting_at(client, tenant, start) for name, start in BOUNDARY_STARTS.items()
    }
    body = await list_page(client, tenant.auth, window)
    assert [m["id"] for m in body["meetings"]] == [made[name]["id"] for name in expected]
    assert body["records"]["totalRecords"] == len(expected)


@pytest.mark.parametrize(
    ("start_from", "start_to"),
    [
        ("2030-01-15T10:00:00Z", "2030-01-15T10:00:00Z"),
        ("2030-01-15T12:00:00+02:00", "2030-01-15T10:00:00Z"),  # the same instant
        ("2030-01-15T10:00:00Z", "2030-01-15T09:59:59.999999Z"),
        ("2030-01-16T00:00:00Z", "2030-01-15T00:00:00Z"),
    ],
)
async def test_to_must_be_after_from(
    client: httpx.AsyncClient, tenant: Tenant, start_from: str, start_to: str
) -> None:
    await meeting_at(client, tenant, "2030-01-15T10:00:00Z")
    response = await client.get(
        "/v2/meetings",
        params={"fromDateTime": start_from, "toDateTime": start_to},
        auth=tenant.auth,
    )
    assert_error(response, 400, "toDateTime")


async def test_the_organizer_filter_ignores_case_and_attendees(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.add_user("acme", "ann@acme.test", "Ann")
    ann_lower = await meeting_at(client, tenant, at(3), organizerEmail="ann@acme.test")
    ann_upper = await meeting_at(client, tenant, at(1), organizerEmail="ANN@Acme.Test")
    ours = await meeting_at(
        client, tenant, at(2), attendees=[{"emailAddress": "ann@acme.test", "name": "Ann"}]
    )
    expected = [ann_upper["id"], ann_lower["id"]]
    for asked in ("ann@acme.test", "Ann@ACME.test", "ANN@ACME.TEST"):
        assert await list_ids(client, tenant.auth, organizerEmail=asked) == expected, asked
    assert await list_ids(client, tenant.auth, organizerEmail=tenant.organizer.upper()) == [
        ours["id"]
    ]
    assert await list_ids(client, tenant.auth, organizerEmail="nobody@acme.test") == []


async def test_the_attendee_filter_ignores_case_and_matches_only_addresses(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    carol = await meeting_at(
        client, tenant, at(5), attendees=[{"emailAddress": "Carol@Example.com"}]
    )
    await meeting_at(  # an attendee whose name, not address, is Carol's address
        client, tenant, at(4), attendees=[{"name": "carol@example.com"}, {"name": "Carol"}]
    )
    twice = await meeting_at(
        client,
        tenant,
        at(6),
        attendees=[
            {"emailAddress": "dave@example.com"},
            {"emailAddress": "CAROL@example.COM", "name": "Carol"},
            {"emailAddress": "carol@example.com"},
        ],
    )
    nobody = await meeting_at(client, tenant, at(1))
    for asked in ("carol@example.com", "CAROL@EXAMPLE.COM", "cArOl@eXaMpLe.CoM"):
        # Listed once although Carol attends `twice` twice.
        assert await list_ids(client, tenant.auth, attendeeEmail=asked) == [
            carol["id"],
            twice["id"],
        ]
    assert await list_ids(client, tenant.auth, attendeeEmail="dave@EXAMPLE.com") == [twice["id"]]
    # The organizer organises every meeting but attends none.
    assert await list_ids(client, tenant.auth, attendeeEmail=tenant.organizer) == []
    assert await list_ids(client, tenant.auth, attendeeEmail="carol@example.co") == []
    assert await list_ids(client, tenant.auth, attendeeEmail="arol@example.com") == []
    assert len(await list_ids(client, tenant.auth)) == 4
    assert nobody["id"] in await list_ids(client, tenant.auth)


async def test_filters_combine(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.add_user("acme", "o1@acme.test", None)
    accounts.add_user("acme", "o2@acme.test", None)
    made = []
    for organizer, attendee, day in itertools.product(
        ("o1@acme.test", "o2@acme.test"), ("a@x.io", "b@x.io"), (10, 11, 12)
    ):
        meeting = await meeting_at(
            client,
            tenant,
            at(day),
            organizerEmail=organizer,
            attendees=[{"emailAddress": attendee}, {"emailAddress": "everyone@x.io"}],
        )
        made.append((meeting, organizer, attendee, day))
    windows: list[tuple[dict[str, str], set[int]]] = [
        ({}, {10, 11, 12}),
        ({"fromDateTime": at(11)}, {11, 12}),
        ({"toDateTime": at(11)}, {10}),
        ({"fromDateTime": at(11), "toDateTime": at(12)}, {11}),
    ]
    for by_organizer, by_attendee, (window, days) in itertools.product(
        (None, "o1@acme.test", "O2@acme.test"),
        (None, "a@x.io", "B@X.IO", "everyone@x.io"),
        windows,
    ):
        params = dict(window)
        if by_organizer:
            params["organizerEmail"] = by_organizer
        if by_attendee:
            params["attendeeEmail"] = by_attendee
        expected = in_order(
            [
                m
                for m, o, a, day in made
                if (by_organizer is None or o == by_organizer.lower())
                and (by_attendee in (None, "everyone@x.io") or a == str(by_attendee).lower())
                and day in days
            ]
        )
        assert await list_ids(client, tenant.auth, **params) == expected, params


# --- changes show in lists ---------------------------------------------------------------------


async def test_replaced_attendees_change_who_matches(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    meeting = await meeting_at(client, tenant, at(10), attendees=[{"emailAddress": "ann@x.io"}])
    untouched = await meeting_at(client, tenant, at(11), attendees=[{"emailAddress": "ann@x.io"}])

    async def put(body: dict[str, Any]) -> None:
        response = await client.put(f"/v2/meetings/{meeting['id']}", json=body, auth=tenant.auth)
        assert response.status_code == 200, response.text

    async def matching(**params: str) -> list[str]:
        return await list_ids(client, tenant.auth, **params)

    assert await matching(attendeeEmail="ann@x.io") == [meeting["id"], untouched["id"]]
    await put({"attendees": [{"emailAddress": "Bob@x.io"}, {"name": "ann@x.io"}]})
    assert await matching(attendeeEmail="ann@x.io") == [untouched["id"]]
    assert await matching(attendeeEmail="bob@x.io") == [meeting["id"]]
    # A change of something else keeps the attendees, and who matches.
    await put({"title": "Renamed"})
    assert await matching(attendeeEmail="bob@x.io") == [meeting["id"]]
    await put({"attendees": []})
    assert await matching(attendeeEmail="bob@x.io") == []
    assert await matching(attendeeEmail="ann@x.io") == [untouched["id"]]
    # The organizer, which an update cannot change, still matches both.
    assert await matching(organizerEmail=tenant.organizer) == [meeting["id"], untouched["id"]]


async def test_a_new_start_moves_the_meeting_in_order_and_in_windows(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    attendees = [{"emailAddress": "ann@x.io"}]
    first, moved, last = [
        await meeting_at(client, tenant, at(day), attendees=attendees) for day in (10, 11, 12)
    ]
    response = await client.put(
        f"/v2/meetings/{moved['id']}",
        json={"scheduledStart": at(20), "scheduledEnd": at(21)},
        auth=tenant.auth,
    )
    assert response.status_code == 200, response.text
    order = [first["id"], last["id"], moved["id"]]
    for person in ({}, {"attendeeEmail": "ann@x.io"}, {"organizerEmail": tenant.organizer}):
        assert await list_ids(client, tenant.auth, **person) == order, person
        walked, _ = await walk(client, tenant.auth, {"limit": 1, **person})
        assert [m["id"] for m in walked] == order, person
        window = {"fromDateTime": at(11), "toDateTime": at(12), **person}
        assert await list_ids(client, tenant.auth, **window) == [], person
        window = {"fromDateTime": at(20), **person}
        assert await list_ids(client, tenant.auth, **window) == [moved["id"]], person
        window = {"fromDateTime": at(12), "toDateTime": at(20), **person}
        assert await list_ids(client, tenant.auth, **window) == [last["id"]], person
    # Moved before the others, it comes first.
    response = await client.put(
        f"/v2/meetings/{moved['id']}",
        json={"scheduledStart": at(1)},
        auth=tenant.auth,
    )
    assert response.status_code == 200, response.text
    for person in ({}, {"attendeeEmail": "ann@x.io"}):
        assert await list_ids(client, tenant.auth, **person) == [
            moved["id"],
            first["id"],
            last["id"],
        ]


async def test_deleted_meetings_vanish_and_the_total_drops(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    attendees = [{"emailAddress": "ann@x.io"}]
    made = [await meeting_at(client, tenant, at(10 + n % 3), attendees=attendees) for n in range(6)]
    for gone in (made[1], made[4]):
        response = await client.delete(f"/v2/meetings/{gone['id']}", auth=tenant.auth)
        assert response.status_code == 200, response.text
    left = in_order([made[n] for n in (0, 2, 3, 5)])
    for params in ({}, {"attendeeEmail": "ann@x.io"}, {"fromDateTime": at(1)}):
        body = await list_page(client, tenant.auth, params)
        assert [m["id"] for m in body["meetings"]] == left, params
        assert body["records"]["totalRecords"] == 4, params
        walked, pages = await walk(client, tenant.auth, {"limit": 3, **params})
        assert [m["id"] for m in walked] == left
        assert pages[0]["totalRecords"] == 4
    for meeting in made:
        await client.delete(f"/v2/meetings/{meeting['id']}", auth=tenant.auth)
    body = await list_page(client, tenant.auth)
    assert body["records"]["totalRecords"] == 0 and body["meetings"] == []


async def test_workspaces_never_see_each_others_meetings(
    client: httpx.AsyncClient, tenant: Tenant, other: Tenant
) -> None:
    shared = [{"emailAddress": "shared@x.io"}]
    ours = [await meeting_at(client, tenant, at(10 + n), attendees=shared) for n in range(3)]
    theirs = [
        await meeting_at(
            client, other, at(10 + n), organizerEmail=other.organizer, attendees=shared
        )
        for n in range(5)
    ]
    for params in (
        {},
        {"attendeeEmail": "shared@x.io"},
        {"fromDateTime": at(1), "toDateTime": at(28)},
    ):
        assert await list_ids(client, tenant.auth, **params) == in_order(ours), params
        assert await list_ids(client, other.auth, **params) == in_order(theirs), params
    assert await list_ids(client, other.auth, organizerEmail=tenant.organizer) == []
    assert await list_ids(client, tenant.auth, organizerEmail=other.organizer) == []
    walked, pages = await walk(client, tenant.auth, {"limit": 1})
    assert [m["id"] for m in walked] == in_order(ours)
    assert pages[0]["totalRecords"] == 3
    # One workspace's deletion leaves the other's total alone.
    await client.delete(f"/v2/meetings/{theirs[0]['id']}", auth=other.auth)
    assert (await list_page(client, tenant.auth))["records"]["totalRecords"] == 3
    assert (await list_page(client, other.auth))["records"]["totalRecords"] == 4


# --- the served contract -----------------------------------------------------------------------


async def served(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def validator(document: dict[str, Any], schema_name: str) -> Any:
    """A validator of one of the served components, with the document's `$ref`s resolvable."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{schema_name}",
        "components": document["components"],
    }
    return jsonschema_rs.validator_for(schema, validate_formats=True)


async def test_the_contract_documents_listing_and_getting(client: httpx.AsyncClient) -> None:
    document = await served(client)
    listing = document["paths"]["/meetings"]["get"]
    assert listing["operationId"] == "listMeetings"
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert set(parameters) == {
        "fromDateTime",
        "toDateTime",
        "organizerEmail",
        "attendeeEmail",
        "limit",
        "cursor",
    }
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["limit"]["schema"]["default"] == 100
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ListMeetingsResponse"}
    assert {"400", "401", "403", "429", "500"} <= set(listing["responses"])
    assert {"oauth2ClientCredentials": [READ]} in listing["security"]

    getting = document["paths"]["/meetings/{meetingId}"]["get"]
    assert getting["operationId"] == "getMeeting"
    assert [p["name"] for p in getting["parameters"]] == ["meetingId"]
    ok = getting["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GetMeetingResponse"
    }
    assert "ETag" in ok["headers"]
    assert {"401", "403", "404", "429", "500"} <= set(getting["responses"])
    assert {"oauth2ClientCredentials": [READ]} in getting["security"]

    scheme = document["components"]["securitySchemes"]["oauth2ClientCredentials"]
    assert READ in scheme["flows"]["clientCredentials"]["scopes"]
    records = document["components"]["schemas"]["Records"]
    assert set(records["properties"]) == {
        "totalRecords",
        "currentPageSize",
        "currentPageNumber",
        "cursor",
    }
    assert "cursor" not in records["required"]


async def test_the_contract_links_create_get_update_delete(client: httpx.AsyncClient) -> None:
    document = await served(client)
    paths = document["paths"]
    operations = {
        op["operationId"]: op
        for item in paths.values()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete")
    }
    assert {"createMeeting", "getMeeting", "updateMeeting", "deleteMeeting"} <= set(operations)

    def links(operation_id: str, status: str) -> dict[str, str]:
        found = operations[operation_id]["responses"][status].get("links", {})
        return {link["operationId"]: link["parameters"]["meetingId"] for link in found.values()}

    created = links("createMeeting", "201")
    assert created["getMeeting"] == "$response.body#/meetingId"
    got = links("getMeeting", "200")
    assert got["updateMeeting"] == "$response.body#/meeting/id"
    assert got["deleteMeeting"] == "$response.body#/meeting/id"
    # Every link names an operation that exists and a parameter it takes.
    for operation_id in operations:
        for status, response in operations[operation_id]["responses"].items():
            for link in response.get("links", {}).values():
                target = operations[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", [])}
                names |= {p["name"] for item in paths.values() for p in item.get("parameters", [])}
                assert set(link["parameters"]) <= names, (operation_id, status, link)


async def test_real_responses_validate_against_the_served_schemas(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    document = await served(client)
    for n in range(3):
        await meeting_at(
            client,
            tenant,
            at(10 + n),
            attendees=ATTENDEES,
            description="d",
            meetingProvider="Zoom",
            externalMeetingId=str(n),
        )
    plain = await meeting_at(client, tenant, at(9))
    lists = validator(document, "ListMeetingsResponse")
    first = await client.get("/v2/meetings", params={"limit": 2}, auth=tenant.auth)
    body = assert_page(first)
    assert "cursor" in body["records"]
    lists.validate(body)
    last = await client.get(
        "/v2/meetings", params={"limit": 2, "cursor": body["records"]["cursor"]}, auth=tenant.auth
    )
    assert "cursor" not in assert_page(last)["records"]
    lists.validate(last.json())
    lists.validate((await client.get("/v2/meetings", auth=tenant.auth)).json())
    empty = await client.get("/v2/meetings", params={"toDateTime": at(1)}, auth=tenant.auth)
    lists.validate(assert_page(empty))

    one = await get(client, plain["id"], auth=tenant.auth)
    validator(document, "GetMeetingResponse").validate(one.json())
    header = document["components"]["headers"]["ETag"]["schema"]
    assert jsonschema_rs.validator_for(header).is_valid(one.headers["etag"])

    errors = validator(document, "ErrorResponse")
    errors.validate((await client.get("/v2/meetings?limit=0", auth=tenant.auth)).json())
    errors.validate((await get(client, NEVER_EXISTED, auth=tenant.auth)).json())
    # The check is not vacuous: a page without its records fails it.
    assert not lists.is_valid({"requestId": "x", "meetings": []})
