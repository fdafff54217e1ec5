"""Paging through GET /v2/meetings: page sizes, signed cursors, walks while meetings come and
go, and bad query input, which must always be a 400 naming the parameter and never a 500.

Everything runs on both databases; what the list shows and in which order is in
test_reading_meetings.py.
"""

import base64
import hashlib
import json
import os
import string
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from gong_meetings.config import Settings
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from gong_meetings.wire import DATETIME_PATTERN, python_pattern
from tests.api.meeting_lists import (
    assert_page,
    ids,
    in_order,
    list_page,
    order_key,
    store_meeting,
    walk,
)
from tests.helpers import Tenant, app_client, assert_error, create_meeting, make_tenant

PARAMETERS = ("fromDateTime", "toDateTime", "organizerEmail", "attendeeEmail", "limit", "cursor")
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
START = datetime(2030, 1, 15, 10, tzinfo=UTC)


def z(moment: datetime) -> str:
    """An instant as the server writes one."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def meeting_at(
    client: httpx.AsyncClient, tenant: Tenant, start: datetime, **overrides: Any
) -> dict[str, Any]:
    body = await create_meeting(
        client,
        tenant,
        scheduledStart=z(start),
        scheduledEnd="2031-01-01T00:00:00Z",
        **overrides,
    )
    meeting: dict[str, Any] = body["meeting"]
    return meeting


async def make_meetings(
    client: httpx.AsyncClient, tenant: Tenant, count: int, **overrides: Any
) -> list[dict[str, Any]]:
    """`count` meetings on seven starts a day apart, created out of order, so that many share
    a start and page boundaries fall inside runs of equal starts."""
    return [
        await meeting_at(client, tenant, START + timedelta(days=(n * 3) % 7), **overrides)
        for n in range(count)
    ]


def bad_query(response: httpx.Response, *names: str) -> list[str]:
    """A 400 envelope whose every message starts with a parameter's name, naming each of
    `names`."""
    errors = assert_error(response, 400)
    for error in errors:
        assert error.split(":")[0] in PARAMETERS, errors
    for name in names:
        assert any(e.startswith(f"{name}:") for e in errors), (name, errors)
    return errors


@pytest.fixture
def other(accounts: AccountService) -> Tenant:
    return make_tenant(accounts, "globex")


# --- page sizes --------------------------------------------------------------------------------


async def test_the_default_page_holds_100_and_the_next_the_rest(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await make_meetings(client, tenant, 103)
    expected = in_order(made)
    first = await list_page(client, tenant.auth)
    assert len(first["meetings"]) == 100
    records = first["records"]
    assert {k: v for k, v in records.items() if k != "cursor"} == {
        "totalRecords": 103,
        "currentPageSize": 100,
        "currentPageNumber": 0,
    }
    second = await list_page(client, tenant.auth, {"cursor": records["cursor"]})
    assert second["records"] == {"totalRecords": 103, "currentPageSize": 3, "currentPageNumber": 1}
    assert ids(first["meetings"]) + ids(second["meetings"]) == expected
    # limit=100 is the same page.
    same = await list_page(client, tenant.auth, {"limit": "100"})
    assert same["meetings"] == first["meetings"]


@pytest.mark.parametrize("limit", [1, 7, 34, 100])
async def test_walking_every_page_gives_the_whole_list_once(
    client: httpx.AsyncClient, tenant: Tenant, limit: int
) -> None:
    made = await make_meetings(client, tenant, 103 if limit > 1 else 23)
    walked, pages = await walk(client, tenant.auth, {"limit": limit})
    assert ids(walked) == in_order(made)
    count = len(made)
    assert len(pages) == -(-count // limit)
    assert [p["currentPageNumber"] for p in pages] == list(range(len(pages)))
    assert {p["totalRecords"] for p in pages} == {count}
    assert [p["currentPageSize"] for p in pages[:-1]] == [limit] * (len(pages) - 1)
    assert pages[-1]["currentPageSize"] == count - limit * (len(pages) - 1)


@pytest.mark.parametrize("count", [5, 10, 1])
async def test_no_cursor_after_the_last_meeting_even_on_a_full_page(
    client: httpx.AsyncClient, tenant: Tenant, count: int
) -> None:
    made = await make_meetings(client, tenant, count)
    walked, pages = await walk(client, tenant.auth, {"limit": 5})
    assert ids(walked) == in_order(made)
    assert len(pages) == -(-count // 5)  # no empty page after a full last page
    exact = await list_page(client, tenant.auth, {"limit": str(count)})
    assert "cursor" not in exact["records"]
    if count > 1:
        short = await list_page(client, tenant.auth, {"limit": str(count - 1)})
        assert "cursor" in short["records"]


@pytest.mark.parametrize(
    "limit",
    [
        "0",
        "101",
        "-1",
        "abc",
        "1.5",
        "",
        " 5",
        "5 ",
        "+5",
        "1e2",
        "0x10",
        "\uff15",  # a full-width 5
        "\u0665",  # an Arabic-Indic 5
        "99999999999999999999999999",
        "1000",
    ],
)
async def test_a_limit_out_of_bounds_or_not_a_number_is_400(
    client: httpx.AsyncClient, tenant: Tenant, limit: str
) -> None:
    await make_meetings(client, tenant, 2)
    response = await client.get("/v2/meetings", params={"limit": limit}, auth=tenant.auth)
    errors = bad_query(response, "limit")
    assert len(errors) == 1


@pytest.mark.parametrize("limit", ["1", "2", "99", "100"])
async def test_limits_from_1_to_100_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, limit: str
) -> None:
    made = await make_meetings(client, tenant, 3)
    body = await list_page(client, tenant.auth, {"limit": limit})
    assert ids(body["meetings"]) == in_order(made)[: int(limit)]


# --- bad parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("fromDateTime", "2030-01-15T10:00:00Z"),
        ("toDateTime", "2030-01-15T10:00:00Z"),
        ("organizerEmail", "organizer@acme.test"),
        ("attendeeEmail", "ann@x.io"),
        ("limit", "5"),
        ("cursor", "abc"),
    ],
)
async def test_a_parameter_given_twice_is_400(
    client: httpx.AsyncClient, tenant: Tenant, name: str, value: str
) -> None:
    response = await client.get(
        "/v2/meetings", params=[(name, value), (name, value)], auth=tenant.auth
    )
    bad_query(response, name)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("fromDateTime", "2030-01-15"),
        ("fromDateTime", "2030-01-15T10:00:00"),  # no offset
        ("fromDateTime", "2030-01-15 10:00:00Z"),
        ("fromDateTime", "2030-02-30T10:00:00Z"),  # no such day
        ("fromDateTime", "2030-01-15T10:00:00+02:00 "),
        ("fromDateTime", "2030-01-15T10:00:00 02:00"),  # `+` sent unencoded is a space
        ("toDateTime", "tomorrow"),
        ("toDateTime", "2030-01-15T24:00:00Z"),
        ("toDateTime", "1700000000"),
        ("organizerEmail", "organizer"),
        ("organizerEmail", "organizer@acme"),
        ("organizerEmail", " organizer@acme.test"),
        ("attendeeEmail", ""),
        ("attendeeEmail", "ann@@x.io"),
        ("attendeeEmail", "a" * 250 + "@x.io"),
        ("cursor", ""),
        ("cursor", "c" * 2049),
    ],
)
async def test_a_malformed_parameter_is_400_naming_it(
    client: httpx.AsyncClient, tenant: Tenant, name: str, value: str
) -> None:
    await make_meetings(client, tenant, 2)
    response = await client.get("/v2/meetings", params={name: value}, auth=tenant.auth)
    errors = bad_query(response, name)
    assert all(e.startswith(f"{name}:") for e in errors), errors


async def test_every_malformed_parameter_is_named_at_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    params = {
        "fromDateTime": "yesterday",
        "toDateTime": "2030-13-01T00:00:00Z",
        "organizerEmail": "nobody",
        "attendeeEmail": "@x.io",
        "limit": "0",
        "cursor": "",
    }
    errors = bad_query(await client.get("/v2/meetings", params=params, auth=tenant.auth), *params)
    assert len(errors) == len(params)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0", "cursor": "forged"},
        {
            "limit": "0",
            "fromDateTime": "2030-01-16T00:00:00Z",
            "toDateTime": "2030-01-15T00:00:00Z",
        },
    ],
    ids=["forged-cursor", "to-before-from"],
)
async def test_a_bad_cursor_or_window_is_named_with_the_other_problems(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str]
) -> None:
    """Every bad parameter is named in one 400: the cursor's signature and the order of the
    window are checked along with the syntax, not only once the syntax is right."""
    response = await client.get("/v2/meetings", params=params, auth=tenant.auth)
    bad_query(response, "limit", "cursor" if "cursor" in params else "toDateTime")


@pytest.mark.parametrize(
    "raw",
    [
        "limit=%FF",
        "limit=5%00",
        "cursor=%FF%FE%FD",
        "cursor=%00",
        "fromDateTime=%ZZ",
        "attendeeEmail=ann%40x.io%0A",
        "fromDateTime=2030-01-15T10:00:00+02:00",  # unencoded `+`: a space
        "limit=5&limit=",
    ],
)
async def test_raw_query_strings_that_are_wrong_are_400(
    client: httpx.AsyncClient, tenant: Tenant, raw: str
) -> None:
    response = await client.get(f"/v2/meetings?{raw}", auth=tenant.auth)
    bad_query(response, raw.split("=")[0])


@pytest.mark.parametrize(
    "raw",
    ["", "limit=5&unknown=1", "page=3", "&&", "=5", "fromdatetime=nonsense", "LIMIT=0"],
)
async def test_unknown_parameters_are_ignored(
    client: httpx.AsyncClient, tenant: Tenant, raw: str
) -> None:
    made = await make_meetings(client, tenant, 6)
    body = assert_page(await client.get(f"/v2/meetings?{raw}", auth=tenant.auth))
    shown = in_order(made)[:5] if "limit=5" in raw else in_order(made)
    assert ids(body["meetings"]) == shown


# --- cursors -----------------------------------------------------------------------------------


async def first_cursor(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any] | None = None
) -> tuple[str, list[str]]:
    """A first page's cursor and the ids of the page after it."""
    query = {"limit": 3, **(params or {})}
    first = await list_page(client, tenant.auth, query)
    cursor = first["records"]["cursor"]
    second = await list_page(client, tenant.auth, {"limit": 3, "cursor": cursor})
    return cursor, ids(second["meetings"])


def altered(cursor: str, index: int) -> str:
    """`cursor` with the character at `index` changed so that the bytes it encodes change too:
    in base64url the top bit of a character is always data, even in a segment's last one."""
    char = cursor[index]
    new = BASE64URL[BASE64URL.index(char) ^ 32] if char in BASE64URL else "A"
    return cursor[:index] + new + cursor[index + 1 :]


async def test_a_cursor_altered_in_any_one_character_is_400(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await make_meetings(client, tenant, 10)
    cursor, _ = await first_cursor(client, tenant)
    assert "." in cursor
    accepted = []
    for index in range(len(cursor)):
        changed = altered(cursor, index)
        assert changed != cursor
        response = await client.get("/v2/meetings", params={"cursor": changed}, auth=tenant.auth)
        if response.status_code != 400:
            accepted.append((index, response.status_code))
        else:
            bad_query(response, "cursor")
    assert accepted == [], accepted


def _unsign(cursor: str) -> tuple[str, str]:
    payload, _, signature = cursor.rpartition(".")
    return payload, signature


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def test_a_cursor_with_a_rewritten_payload_is_400(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Decoding the payload (it is only signed, not secret), changing where it points or its
    filter, and sending it back with the old signature, must not work."""
    await make_meetings(client, tenant, 10)
    cursor, _ = await first_cursor(client, tenant)
    payload, signature = _unsign(cursor)
    compressed = payload.startswith(".")
    raw = _b64decode(payload.lstrip("."))
    data = json.loads(zlib.decompress(raw) if compressed else raw)
    assert isinstance(data, list) and any(isinstance(x, dict) for x in data), data
    for change in (
        lambda d: [*d[:-1], d[-1] + 1],
        lambda d: [d[0], *[x + 1 if isinstance(x, int) else x for x in d[1:]]],
        lambda d: [{**x, "attendee": "someone@x.io"} if isinstance(x, dict) else x for x in d],
    ):
        text = json.dumps(change(data), separators=(",", ":")).encode()
        forged_payload = ("." + _b64encode(zlib.compress(text))) if compressed else _b64encode(text)
        forged = f"{forged_payload}.{signature}"
        assert forged != cursor
        response = await client.get("/v2/meetings", params={"cursor": forged}, auth=tenant.auth)
        bad_query(response, "cursor")


async def test_truncated_extended_and_garbage_cursors_are_400(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await make_meetings(client, tenant, 10)
    cursor, _ = await first_cursor(client, tenant)
    payload, signature = _unsign(cursor)
    forged_elsewhere = URLSafeSerializer(
        os.urandom(32),
        salt="gong-meetings.list-cursor",
        signer_kwargs={"digest_method": hashlib.sha256},
    ).dumps([{}, "2030-01-15T10:00:00+00:00", 1, 1, 10])
    candidates = [
        cursor[:-1],
        cursor[:-5],
        cursor[: len(cursor) // 2],
        cursor[1:],
        payload,
        payload + ".",
        "." + signature,
        signature,
        cursor + "A",
        cursor + ".",
        cursor + "." + signature,
        cursor[::-1],
        cursor.upper(),
        " " + cursor,
        cursor + "\n",
        "abc",
        ".",
        "..",
        "null",
        "[]",
        "0",
        _b64encode(os.urandom(48)),
        _b64encode(os.urandom(48)) + "." + _b64encode(os.urandom(32)),
        "." + _b64encode(os.urandom(200)) + "." + signature,
        forged_elsewhere,
        "\u00e9" * 10,
        "%" * 20,
    ]
    for candidate in candidates:
        assert candidate != cursor
        response = await client.get("/v2/meetings", params={"cursor": candidate}, auth=tenant.auth)
        bad_query(response, "cursor")
    # The real one still works after all that.
    assert_page(await client.get("/v2/meetings", params={"cursor": cursor}, auth=tenant.auth))


async def test_a_cursor_from_another_database_is_400(
    client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    """A second server on a database of its own signs its cursors with another secret."""
    await make_meetings(client, tenant, 10)
    elsewhere = f"sqlite:///{tmp_path}/elsewhere.db"
    database = Database(elsewhere)
    upgrade(database.engine)
    foreign_tenant = make_tenant(AccountService(database), "acme")
    database.close()
    async with app_client(Settings(database_url=elsewhere)) as foreign:
        await make_meetings(foreign, foreign_tenant, 10)
        foreign_cursor, _ = await first_cursor(foreign, foreign_tenant)
        # It works where it was made.
        assert_page(
            await foreign.get(
                "/v2/meetings", params={"cursor": foreign_cursor}, auth=foreign_tenant.auth
            )
        )
    response = await client.get("/v2/meetings", params={"cursor": foreign_cursor}, auth=tenant.auth)
    bad_query(response, "cursor")


async def test_a_cursor_works_on_every_server_sharing_the_database(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    made = await make_meetings(client, tenant, 10)
    cursor, following = await first_cursor(client, tenant)
    async with app_client(settings) as second:
        body = await list_page(second, tenant.auth, {"limit": 3, "cursor": cursor})
        assert ids(body["meetings"]) == following == in_order(made)[3:6]
        assert body["records"]["currentPageNumber"] == 1
        # And back: the second server's cursor works on the first.
        onward = await list_page(client, tenant.auth, {"cursor": body["records"]["cursor"]})
        assert ids(onward["meetings"]) == in_order(made)[6:]


async def test_a_cursor_continues_with_the_same_filters_or_none(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.add_user("acme", "ann@acme.test", None)
    await make_meetings(client, tenant, 8, attendees=[{"emailAddress": "bob@x.io"}])
    wanted = await make_meetings(
        client, tenant, 12, organizerEmail="ann@acme.test", attendees=[{"emailAddress": "a@x.io"}]
    )
    filters = {
        "organizerEmail": "ann@acme.test",
        "attendeeEmail": "a@x.io",
        "fromDateTime": z(START + timedelta(days=1)),
        "toDateTime": z(START + timedelta(days=6)),
    }
    expected = in_order(
        [m for m in wanted if START + timedelta(days=1) <= _start(m) < START + timedelta(days=6)]
    )
    assert len(expected) > 6
    without, _ = await walk(client, tenant.auth, {"limit": 3, **filters})
    repeated, _ = await walk(client, tenant.auth, {"limit": 3, **filters}, repeat_filters=True)
    assert ids(without) == ids(repeated) == expected
    # The same filters written differently are the same filters.
    cursor = (await list_page(client, tenant.auth, {"limit": 3, **filters}))["records"]["cursor"]
    same = {
        "organizerEmail": "ANN@acme.TEST",
        "attendeeEmail": "A@X.IO",
        "fromDateTime": (START + timedelta(days=1)).astimezone(_zone(5, 30)).isoformat(),
        "toDateTime": (START + timedelta(days=6)).astimezone(_zone(-3)).isoformat(),
    }
    body = await list_page(client, tenant.auth, {"limit": 3, "cursor": cursor, **same})
    assert ids(body["meetings"]) == expected[3:6]
    # A different page size is not a different list.
    body = await list_page(client, tenant.auth, {"limit": 100, "cursor": cursor})
    assert ids(body["meetings"]) == expected[3:]


def _start(meeting: dict[str, Any]) -> datetime:
    return order_key(meeting)[0]


def _zone(hours: int, minutes: int = 0) -> timezone:
    sign = 1 if hours >= 0 else -1
    return timezone(sign * timedelta(hours=abs(hours), minutes=minutes))


@pytest.mark.parametrize(
    "changed",
    [
        {"attendeeEmail": "b@x.io"},
        {"attendeeEmail": "a@x.io"},  # dropping the organizer, keeping the attendee
        {"organizerEmail": "organizer@acme.test", "attendeeEmail": "a@x.io"},
        {"fromDateTime": "2030-01-16T10:00:00Z"},  # a filter the first page did not have
        {
            "attendeeEmail": "a@x.io",
            "organizerEmail": "ann@acme.test",
            "toDateTime": "2031-01-01T00:00:00Z",
        },
        {
            "attendeeEmail": "a@x.io",
            "organizerEmail": "ann@acme.test",
            "fromDateTime": "2030-01-15T10:00:00.000001Z",
        },
    ],
)
async def test_a_cursor_with_other_filters_is_400(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, changed: dict[str, str]
) -> None:
    accounts.add_user("acme", "ann@acme.test", None)
    await make_meetings(
        client, tenant, 10, organizerEmail="ann@acme.test", attendees=[{"emailAddress": "a@x.io"}]
    )
    first = {
        "organizerEmail": "ann@acme.test",
        "attendeeEmail": "a@x.io",
        "fromDateTime": "2030-01-15T10:00:00Z",
    }
    cursor, _ = await first_cursor(client, tenant, first)
    response = await client.get(
        "/v2/meetings", params={"cursor": cursor, "limit": 3, **changed}, auth=tenant.auth
    )
    bad_query(response, "cursor")


async def test_a_cursor_of_an_unfiltered_list_takes_no_filter(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await make_meetings(client, tenant, 10)
    cursor, following = await first_cursor(client, tenant)
    for added in ({"attendeeEmail": "a@x.io"}, {"toDateTime": "2040-01-01T00:00:00Z"}):
        response = await client.get(
            "/v2/meetings", params={"cursor": cursor, **added}, auth=tenant.auth
        )
        bad_query(response, "cursor")
    body = await list_page(client, tenant.auth, {"cursor": cursor, "limit": 3})
    assert ids(body["meetings"]) == following


async def test_a_cursor_shown_to_another_workspace_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, other: Tenant
) -> None:
    await make_meetings(client, tenant, 12, attendees=[{"emailAddress": "a@x.io"}])
    await make_meetings(
        client, other, 9, organizerEmail=other.organizer, attendees=[{"emailAddress": "a@x.io"}]
    )
    for params in ({}, {"attendeeEmail": "a@x.io"}):
        cursor, _ = await first_cursor(client, tenant, params)
        response = await client.get(
            "/v2/meetings", params={"cursor": cursor, "limit": 3}, auth=other.auth
        )
        # A cursor belongs to the workspace whose list it continues.
        bad_query(response, "cursor")


async def test_a_cursor_survives_the_deletion_of_its_last_meeting(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await make_meetings(client, tenant, 10)
    expected = in_order(made)
    first = await list_page(client, tenant.auth, {"limit": 4})
    assert ids(first["meetings"]) == expected[:4]
    deleted = await client.delete(f"/v2/meetings/{expected[3]}", auth=tenant.auth)
    assert deleted.status_code == 200, deleted.text
    deleted = await client.delete(f"/v2/meetings/{expected[4]}", auth=tenant.auth)
    assert deleted.status_code == 200, deleted.text
    rest = await list_page(client, tenant.auth, {"cursor": first["records"]["cursor"]})
    assert ids(rest["meetings"]) == expected[5:]
    assert rest["records"]["totalRecords"] == 10  # counted on the first page
    assert (await list_page(client, tenant.auth))["records"]["totalRecords"] == 8


async def test_a_cursor_can_be_used_again(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await make_meetings(client, tenant, 10)
    cursor, following = await first_cursor(client, tenant)
    for _ in range(3):
        body = await list_page(client, tenant.auth, {"limit": 3, "cursor": cursor})
        assert ids(body["meetings"]) == following
        assert body["records"]["currentPageNumber"] == 1


# --- walking while meetings come and go --------------------------------------------------------


@pytest.mark.parametrize("filtered", [False, True], ids=["unfiltered", "attendee"])
async def test_a_walk_returns_every_lasting_meeting_once_while_others_change(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, filtered: bool
) -> None:
    attendees = [{"emailAddress": "walker@x.io"}]
    # Forty meetings: ten starts an hour apart, four meetings at each.
    original = [
        await meeting_at(client, tenant, START + timedelta(hours=n % 10), attendees=attendees)
        for n in range(40)
    ]
    order = in_order(original)
    by_id = {m["id"]: m for m in original}
    created: list[str] = []
    deleted_unreached: set[str] = set()
    deleted_returned: set[str] = set()

    async def delete(meeting_id: str) -> None:
        response = await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth)
        assert response.status_code == 200, response.text

    async def meanwhile(page: int, so_far: list[dict[str, Any]]) -> None:
        last = so_far[-1]
        seen = {m["id"] for m in so_far}
        last_start = _start(last)
        # New meetings before the walk's position, at it (a later id), and after it.
        for start in (
            START - timedelta(minutes=page + 1),
            _start(so_far[0]),
            last_start,
            last_start + timedelta(seconds=1),
            START + timedelta(hours=20, minutes=page),
        ):
            created.append((await meeting_at(client, tenant, start, attendees=attendees))["id"])
        # One not reached yet, and one already returned, deleted.
        ahead = [i for i in order if i not in seen and i not in deleted_unreached]
        if len(ahead) > 6:
            victim = ahead[len(ahead) // 2]
            await delete(victim)
            deleted_unreached.add(victim)
        behind = [i for i in order if i in seen and i not in deleted_returned]
        victim = behind[page % len(behind)]
        await delete(victim)
        deleted_returned.add(victim)

    params: dict[str, Any] = {"limit": 5}
    if filtered:
        params["attendeeEmail"] = "WALKER@x.io"
    walked, pages = await walk(client, tenant.auth, params, between=meanwhile)

    returned = ids(walked)
    assert len(returned) == len(set(returned)), "a meeting was returned twice"
    lasting = set(order) - deleted_unreached - deleted_returned
    assert lasting <= set(returned), lasting - set(returned)
    assert not deleted_unreached & set(returned)
    assert set(returned) <= set(order) | set(created)
    # In list order, with the originals in their order.
    keys = [order_key(m) for m in walked]
    assert keys == sorted(keys)
    assert [i for i in returned if i in by_id] == [
        i for i in order if i in set(returned) and i in by_id
    ]
    assert len(deleted_unreached) >= 3 and len(deleted_returned) >= 5
    assert {p["totalRecords"] for p in pages} == {40}
    # Afterwards a fresh walk is exact.
    final, _ = await walk(client, tenant.auth, params)
    assert len(ids(final)) == 40 + len(created) - len(deleted_unreached) - len(deleted_returned)
    assert keys_sorted(final)


def keys_sorted(meetings: list[dict[str, Any]]) -> bool:
    keys = [order_key(m) for m in meetings]
    return keys == sorted(keys) and len(set(keys)) == len(keys)


async def test_ties_at_a_page_boundary_with_smaller_ids_inserted_meanwhile(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    """Meetings inserted at the cursor's start with smaller ids sort before its position, so the
    walk neither returns them nor repeats or skips the meetings after it."""
    made = [await meeting_at(client, tenant, START) for _ in range(9)]
    expected = in_order(made)
    inserted: list[str] = []

    async def meanwhile(page: int, _so_far: list[dict[str, Any]]) -> None:
        for n in range(2):
            stored = store_meeting(database_url, "acme", 1_000 * (page + 1) + n, START, "x@x.io")
            inserted.append(stored["id"])

    walked, _ = await walk(client, tenant.auth, {"limit": 2}, between=meanwhile)
    assert ids(walked) == expected
    assert await _all_ids(client, tenant) == sorted(inserted, key=int) + expected


async def _all_ids(client: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    walked, _ = await walk(client, tenant.auth, {"limit": 100})
    return ids(walked)


async def test_the_total_is_carried_while_a_fresh_list_counts_again(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await make_meetings(client, tenant, 12)

    async def meanwhile(page: int, _so_far: list[dict[str, Any]]) -> None:
        await meeting_at(client, tenant, START + timedelta(days=30, minutes=page))

    _, pages = await walk(client, tenant.auth, {"limit": 5}, between=meanwhile)
    assert {p["totalRecords"] for p in pages} == {12}
    fresh = await list_page(client, tenant.auth, {"limit": 5})
    assert fresh["records"]["totalRecords"] == 12 + len(pages) - 1


# --- bad input never gives a 500 ---------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_NEAR = {
    "fromDateTime": st.from_regex(python_pattern(DATETIME_PATTERN), fullmatch=True),
    "toDateTime": st.from_regex(python_pattern(DATETIME_PATTERN), fullmatch=True),
    "organizerEmail": st.emails().map(lambda e: e[:254]),
    "attendeeEmail": st.sampled_from(["ann@x.io", "ANN@X.IO", "a@b", "ann@x.io\n"]),
    "limit": st.integers(-5, 200).map(str),
}


# What to send as a cursor: text of its own, or the real cursor cut, altered or extended.
_CURSOR_EDITS = st.tuples(
    st.sampled_from(["text", "real", "altered", "prefix", "suffix"]), st.integers(0, 10_000), _TEXT
)


def _cursor(edit: tuple[str, int, str], cursor: str) -> str:
    kind, index, text = edit
    index %= len(cursor)
    return {
        "text": text,
        "real": cursor,
        "altered": altered(cursor, index),
        "prefix": cursor[:index],
        "suffix": cursor + text,
    }[kind]


# Any subset of the six parameters, each once or (rarely) twice, with arbitrary text or
# near-valid values. Drawn up front: a draw inside an async test cannot stop it cleanly.
QUERIES = st.lists(
    st.one_of(
        *[
            st.tuples(st.just(name), st.one_of(_TEXT, _NEAR[name]))
            for name in PARAMETERS
            if name != "cursor"
        ],
        st.tuples(st.just("cursor"), _CURSOR_EDITS),
    ),
    max_size=8,
)


@pytest.fixture
async def seeded(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """Ten meetings, one with an attendee; returns a real cursor of the unfiltered list."""
    await make_meetings(client, tenant, 9)
    await meeting_at(client, tenant, START, attendees=[{"emailAddress": "ann@x.io"}])
    cursor, _ = await first_cursor(client, tenant)
    return cursor


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn=QUERIES)
async def test_any_query_is_a_page_or_a_400_naming_a_parameter(
    client: httpx.AsyncClient, tenant: Tenant, seeded: str, drawn: list[tuple[str, Any]]
) -> None:
    pairs = [(name, _cursor(value, seeded) if name == "cursor" else value) for name, value in drawn]
    response = await client.get(f"/v2/meetings?{urlencode(pairs)}", auth=tenant.auth)
    assert response.status_code in (200, 400), (pairs, response.status_code, response.text)
    if response.status_code == 400:
        bad_query(response)
    else:
        body = assert_page(response)
        assert keys_sorted(body["meetings"])
        assert len({name for name, _ in pairs}) == len(pairs), "a repeated parameter passed"
