"""POST /v2/meetings with an Idempotency-Key: replays, conflicts, expiry, per-workspace keys,
header validation, and concurrent repeats; on SQLite and on PostgreSQL."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.tables import idempotency_keys, meeting_people, workspaces
from gong_meetings.storage.timestamps import from_db, now
from tests.helpers import (
    Tenant,
    assert_error,
    assert_request_id,
    connect,
    make_tenant,
    meeting_body,
    stored_meetings,
)
from tests.storage.derived_tables import assert_derived_tables_consistent, stored_counts

KEY = "5f0c6c52-2c4e-4a8b-9a59-0d6c1d3f7e21"
REPLAYED = "idempotent-replayed"
CONFLICT = "Idempotency-Key: this key was used in the last 24 hours for a different request"
ATTENDEES = [
    {"emailAddress": "Ann@Example.com", "name": "Ann", "responseStatus": "Accepted"},
    {"name": "No address"},
]
# Concurrent creates with one key.
RACERS = 10


async def keyed_create(
    client: httpx.AsyncClient,
    tenant: Tenant,
    key: str | None = KEY,
    body: dict[str, Any] | None = None,
    **overrides: Any,
) -> httpx.Response:
    """POST /v2/meetings with `key` as its Idempotency-Key (None: no header)."""
    headers = {} if key is None else {"Idempotency-Key": key}
    if body is None:
        body = meeting_body(tenant.organizer, **overrides)
    return await client.post("/v2/meetings", json=body, headers=headers, auth=tenant.auth)


def assert_created(response: httpx.Response, *, replayed: bool) -> dict[str, Any]:
    """A 201 MeetingResponse, replayed or not; its body."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"requestId", "meetingId", "meeting"}, body
    assert body["requestId"] == assert_request_id(response)
    assert body["meetingId"] == body["meeting"]["id"]
    assert response.headers["etag"] == '"1"'
    if replayed:
        assert response.headers.get(REPLAYED) == "true", response.headers
    else:
        assert REPLAYED not in response.headers, response.headers
    return body


def assert_same_answer(first: httpx.Response, again: httpx.Response) -> None:
    """`again` repeats `first`: same status, meetingId, meeting and ETag; a new requestId."""
    assert again.status_code == first.status_code
    assert again.json()["meetingId"] == first.json()["meetingId"]
    assert again.json()["meeting"] == first.json()["meeting"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.json()["requestId"] != first.json()["requestId"]


def meeting_count(database_url: str) -> int:
    return len(stored_meetings(database_url))


def assert_consistent(database_url: str) -> None:
    with connect(database_url) as connection:
        assert_derived_tables_consistent(connection)


def workspace_id(database_url: str, name: str) -> int:
    with connect(database_url) as connection:
        found: int = connection.execute(
            sa.select(workspaces.c.id).where(workspaces.c.name == name)
        ).scalar_one()
        return found


def expire(database_url: str, key: str = KEY) -> None:
    """Make `key` (in every workspace) expired, as if its 24 hours were over."""
    with connect(database_url) as connection:
        changed = connection.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == key)
            .values(expires_at=now() - timedelta(seconds=1))
        )
        assert changed.rowcount >= 1
        connection.commit()


def stored_keys(database_url: str) -> set[tuple[int, str]]:
    with connect(database_url) as connection:
        return {
            (row.workspace_id, row.key)
            for row in connection.execute(
                sa.select(idempotency_keys.c.workspace_id, idempotency_keys.c.key)
            )
        }


async def get(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.get(f"/v2/meetings/{meeting_id}", auth=tenant.auth)


# --- replays --------------------------------------------------------------------------------


async def test_a_repeat_gets_the_first_answer_and_creates_nothing(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    body = meeting_body(tenant.organizer, attendees=ATTENDEES, description="Agenda")
    first = await keyed_create(client, tenant, body=body)
    created = assert_created(first, replayed=False)

    for _ in range(2):
        again = await keyed_create(client, tenant, body=body)
        assert_created(again, replayed=True)
        assert_same_answer(first, again)

    assert [str(row[0]) for row in stored_meetings(database_url)] == [created["meetingId"]]
    with connect(database_url) as connection:
        assert_derived_tables_consistent(connection)
        people = connection.execute(sa.select(meeting_people.c.role, meeting_people.c.email))
        assert sorted(people) == [
            ("ATTENDEE", "ann@example.com"),
            ("ORGANIZER", tenant.organizer),
        ]
        assert list(stored_counts(connection).values()) == [1]
    # The meeting the answers name is the one stored.
    stored = await get(client, tenant, created["meetingId"])
    assert stored.status_code == 200, stored.text
    assert stored.json()["meeting"] == created["meeting"]


async def test_a_repeat_after_an_update_still_gets_the_original_answer(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    first = await keyed_create(client, tenant)
    meeting_id = assert_created(first, replayed=False)["meetingId"]
    renamed = await client.put(
        f"/v2/meetings/{meeting_id}", json={"title": "Renamed"}, auth=tenant.auth
    )
    assert renamed.status_code == 200, renamed.text

    again = await keyed_create(client, tenant)

    assert_created(again, replayed=True)
    assert_same_answer(first, again)
    assert again.json()["meeting"]["title"] == "Quarterly review"
    # The stored meeting keeps its update; nothing new was created.
    current = await get(client, tenant, meeting_id)
    assert current.json()["meeting"]["title"] == "Renamed"
    assert current.headers["etag"] == '"2"'
    assert meeting_count(database_url) == 1
    assert_consistent(database_url)


async def test_a_repeat_after_a_delete_still_gets_the_original_answer(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    first = await keyed_create(client, tenant)
    meeting_id = assert_created(first, replayed=False)["meetingId"]
    deleted = await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth)
    assert deleted.status_code == 200, deleted.text

    again = await keyed_create(client, tenant)

    assert_created(again, replayed=True)
    assert_same_answer(first, again)
    # Not re-created: the deleted meeting stays deleted.
    assert meeting_count(database_url) == 0
    assert (await get(client, tenant, meeting_id)).status_code == 404
    assert_consistent(database_url)


async def test_key_order_and_whitespace_do_not_make_a_different_request(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    body = meeting_body(tenant.organizer, attendees=ATTENDEES, meetingProvider="Zoom")
    first = await keyed_create(client, tenant, body=body)
    assert_created(first, replayed=False)

    reordered = {name: body[name] for name in reversed(list(body))}
    reordered["attendees"] = [{k: a[k] for k in reversed(list(a))} for a in ATTENDEES]
    text = json.dumps(reordered, indent=4, separators=(" ,  ", " :\t"))
    assert text != json.dumps(body)
    again = await client.post(
        "/v2/meetings",
        content=f"\n  {text}\r\n ".encode(),
        headers={"Idempotency-Key": KEY, "Content-Type": "application/json"},
        auth=tenant.auth,
    )

    assert_created(again, replayed=True)
    assert_same_answer(first, again)
    assert meeting_count(database_url) == 1


# --- conflicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Another meeting"},
        {"scheduledEnd": "2030-01-15T11:30:00Z"},
        {"description": "An extra field"},
        {"attendees": ATTENDEES},
        # The same instant written another way is still another request body.
        {"scheduledStart": "2030-01-15T11:00:00+01:00"},
    ],
    ids=["title", "end", "extra-field", "attendees", "same-instant-other-text"],
)
async def test_the_same_key_with_a_different_body_gets_409_and_creates_nothing(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, change: dict[str, Any]
) -> None:
    first = await keyed_create(client, tenant)
    assert_created(first, replayed=False)

    conflict = await keyed_create(client, tenant, **change)

    errors = assert_error(conflict, 409, CONFLICT)
    assert len(errors) == 1, errors
    assert REPLAYED not in conflict.headers
    assert meeting_count(database_url) == 1
    assert_consistent(database_url)
    # The key still stands for its first request.
    again = await keyed_create(client, tenant)
    assert_created(again, replayed=True)
    assert_same_answer(first, again)


# --- keys per workspace ---------------------------------------------------------------------


async def test_keys_are_per_workspace(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, database_url: str
) -> None:
    other = make_tenant(accounts, "globex")
    mine = await keyed_create(client, tenant)
    # The same key, the same body apart from the organizer, and one with another title: all
    # new to workspace globex.
    theirs = await keyed_create(client, other, title="Globex's own")
    assert_created(mine, replayed=False)
    assert_created(theirs, replayed=False)
    assert mine.json()["meetingId"] != theirs.json()["meetingId"]
    assert meeting_count(database_url) == 2

    # Each workspace's key replays its own answer.
    assert_same_answer(mine, await keyed_create(client, tenant))
    assert_same_answer(theirs, await keyed_create(client, other, title="Globex's own"))
    assert_error(await keyed_create(client, other), 409, CONFLICT)
    assert meeting_count(database_url) == 2
    assert stored_keys(database_url) == {
        (workspace_id(database_url, "acme"), KEY),
        (workspace_id(database_url, "globex"), KEY),
    }
    assert_consistent(database_url)


async def test_another_workspace_cannot_read_a_meeting_through_a_replay(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, database_url: str
) -> None:
    """Sending another workspace's key and body creates a meeting of one's own."""
    other = make_tenant(accounts, "globex")
    mine = assert_created(await keyed_create(client, tenant), replayed=False)
    # globex's key is used and knows acme's organizer address: still its own new meeting.
    accounts.add_user("globex", tenant.organizer, "Guest")
    theirs = assert_created(
        await keyed_create(client, other, organizerEmail=tenant.organizer), replayed=False
    )
    assert theirs["meetingId"] != mine["meetingId"]
    assert meeting_count(database_url) == 2


# --- failed creates do not use the key ------------------------------------------------------


@pytest.mark.parametrize(
    "failing",
    [
        {"organizerEmail": "stranger@acme.test"},
        {"scheduledEnd": "2030-01-15T09:00:00Z"},
        {"scheduledStart": "2030-02-30T10:00:00Z"},
    ],
    ids=["unknown-organizer", "end-before-start", "no-such-day"],
)
async def test_a_failed_create_leaves_the_key_free(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, failing: dict[str, Any]
) -> None:
    for _ in range(2):  # failing again, not replaying the failure
        assert_error(await keyed_create(client, tenant, **failing), 400)
    assert meeting_count(database_url) == 0
    assert stored_keys(database_url) == set()

    created = await keyed_create(client, tenant)

    assert_created(created, replayed=False)
    assert meeting_count(database_url) == 1
    assert_same_answer(created, await keyed_create(client, tenant))


async def test_a_body_the_wire_types_refuse_leaves_the_key_free(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    bad = await keyed_create(client, tenant, body={"title": "No times"})
    assert_error(bad, 400, "scheduledStart")
    assert_created(await keyed_create(client, tenant), replayed=False)
    assert meeting_count(database_url) == 1


# --- expiry ---------------------------------------------------------------------------------


async def test_an_expired_key_creates_a_new_meeting(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    first = assert_created(await keyed_create(client, tenant), replayed=False)
    expire(database_url)

    second = assert_created(await keyed_create(client, tenant), replayed=False)

    assert second["meetingId"] != first["meetingId"]
    assert meeting_count(database_url) == 2
    # The key now stands for the second create.
    again = await keyed_create(client, tenant)
    assert_created(again, replayed=True)
    assert again.json()["meetingId"] == second["meetingId"]
    assert_consistent(database_url)


async def test_an_expired_key_is_free_for_a_different_body(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    assert_created(await keyed_create(client, tenant), replayed=False)
    expire(database_url)
    other = assert_created(await keyed_create(client, tenant, title="Other"), replayed=False)
    assert other["meeting"]["title"] == "Other"
    assert_error(await keyed_create(client, tenant), 409, CONFLICT)
    assert meeting_count(database_url) == 2


async def test_a_fresh_key_is_remembered_for_24_hours(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    before = now()
    assert_created(await keyed_create(client, tenant), replayed=False)
    after = now()
    with connect(database_url) as connection:
        row = connection.execute(sa.select(idempotency_keys)).one()
    expires_at = from_db(row.expires_at)
    assert before + timedelta(hours=24) <= expires_at <= after + timedelta(hours=24)
    assert json.loads(row.meeting)["title"] == "Quarterly review"


async def test_a_keyed_create_purges_expired_keys_and_keeps_live_ones(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, database_url: str
) -> None:
    other = make_tenant(accounts, "globex")
    for name, who in (("old-1", tenant), ("old-2", other), ("live", other)):
        assert_created(await keyed_create(client, who, key=name), replayed=False)
    expire(database_url, "old-1")
    expire(database_url, "old-2")
    acme, globex = workspace_id(database_url, "acme"), workspace_id(database_url, "globex")
    assert stored_keys(database_url) == {(acme, "old-1"), (globex, "old-2"), (globex, "live")}

    # Without a key: nothing is purged.
    assert_created(await keyed_create(client, tenant, key=None), replayed=False)
    assert len(stored_keys(database_url)) == 3

    # With a key: every expired one goes, whichever workspace it was in.
    assert_created(await keyed_create(client, tenant, key="new"), replayed=False)
    assert stored_keys(database_url) == {(globex, "live"), (acme, "new")}
    assert_same_answer(
        await keyed_create(client, other, key="live"),
        await keyed_create(client, other, key="live"),
    )


# --- the header -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [b""],
        [b"k" * 256],
        ["clé".encode()],
        ["caf\xe9".encode("latin-1")],
        [b"a\x01b"],
        [b"a\tb"],
        [b"a\x7fb"],
        [b"same", b"same"],
        [b"one", b"two"],
    ],
    ids=[
        "empty",
        "256-characters",
        "utf-8",
        "latin-1",
        "control-character",
        "tab",
        "delete",
        "twice-the-same",
        "twice-different",
    ],
)
async def test_a_bad_key_gets_400_naming_the_header_and_creates_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    database_url: str,
    values: list[bytes],
) -> None:
    headers = [(b"Idempotency-Key", value) for value in values]
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), headers=headers, auth=tenant.auth
    )
    errors = assert_error(response, 400, "Idempotency-Key")
    assert len(errors) == 1, errors
    assert meeting_count(database_url) == 0
    assert stored_keys(database_url) == set()


async def test_the_key_is_checked_before_the_body(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    response = await client.post(
        "/v2/meetings",
        content=b"{not json",
        headers={"Idempotency-Key": "", "Content-Type": "application/json"},
        auth=tenant.auth,
    )
    assert assert_error(response, 400, "Idempotency-Key") == [
        "Idempotency-Key: send one key of 1 to 255 printable ASCII characters, such as a UUID"
    ]
    assert meeting_count(database_url) == 0


@pytest.mark.parametrize(
    "key",
    [
        "k",
        "k" * 255,
        "<" + "".join(chr(c) for c in range(0x20, 0x7F)) + ">",
        "with inner spaces",
    ],
    ids=["1-character", "255-characters", "every-printable-character", "spaces"],
)
async def test_every_allowed_key_works(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, key: str
) -> None:
    first = await keyed_create(client, tenant, key=key)
    assert_created(first, replayed=False)
    again = await keyed_create(client, tenant, key=key)
    assert_created(again, replayed=True)
    assert_same_answer(first, again)
    assert stored_keys(database_url) == {(workspace_id(database_url, "acme"), key)}
    assert meeting_count(database_url) == 1


async def test_keys_differing_only_in_case_are_different_keys(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    lower = assert_created(await keyed_create(client, tenant, key="abc"), replayed=False)
    upper = assert_created(await keyed_create(client, tenant, key="ABC"), replayed=False)
    assert lower["meetingId"] != upper["meetingId"]
    assert meeting_count(database_url) == 2


async def test_without_a_key_every_create_makes_a_meeting(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    answers = [
        assert_created(await keyed_create(client, tenant, key=None), replayed=False)
        for _ in range(2)
    ]
    assert answers[0]["meetingId"] != answers[1]["meetingId"]
    assert meeting_count(database_url) == 2
    assert stored_keys(database_url) == set()
    assert_consistent(database_url)


# --- concurrent repeats ---------------------------------------------------------------------


async def test_concurrent_repeats_with_one_key_create_one_meeting(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    """On PostgreSQL the transactions overlap (the engine is async); on SQLite they are
    serialized. Either way: one meeting, and every answer names it."""
    for round_number in range(3):
        key = f"race-{round_number}"
        answers = await asyncio.gather(
            *(keyed_create(client, tenant, key=key) for _ in range(RACERS))
        )
        assert [a.status_code for a in answers] == [201] * RACERS, [a.text for a in answers]
        assert len({a.json()["meetingId"] for a in answers}) == 1
        assert len({json.dumps(a.json()["meeting"], sort_keys=True) for a in answers}) == 1
        replayed = [a.headers.get(REPLAYED) == "true" for a in answers]
        assert replayed.count(False) == 1, replayed
        assert replayed.count(True) == RACERS - 1
        assert len({a.json()["requestId"] for a in answers}) == RACERS
        assert meeting_count(database_url) == round_number + 1
    assert_consistent(database_url)


async def test_concurrent_different_bodies_with_one_key_create_one_meeting(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    titles = [f"Title {i % 2}" for i in range(RACERS)]
    answers = await asyncio.gather(*(keyed_create(client, tenant, title=title) for title in titles))

    rows = stored_meetings(database_url)
    assert len(rows) == 1, rows
    winner = next(a for a in answers if a.status_code == 201).json()
    for title, answer in zip(titles, answers, strict=True):
        if title == winner["meeting"]["title"]:
            assert answer.status_code == 201, answer.text
            assert answer.json()["meetingId"] == winner["meetingId"]
            assert answer.json()["meeting"] == winner["meeting"]
        else:
            assert_error(answer, 409, CONFLICT)
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == RACERS // 2
    assert [a.headers.get(REPLAYED) for a in created].count("true") == len(created) - 1
    assert str(rows[0][0]) == winner["meetingId"]
    assert_consistent(database_url)


async def test_concurrent_repeats_of_an_expired_key_create_one_meeting(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, database_url: str
) -> None:
    """An expired key that the purge did not reach (over a batch of older expired keys stand
    before it) is taken afresh by exactly one of the concurrent repeats."""
    first = assert_created(await keyed_create(client, tenant), replayed=False)
    other = make_tenant(accounts, "globex")
    globex = workspace_id(database_url, "globex")
    long_ago = now() - timedelta(days=30)
    with connect(database_url) as connection:
        connection.execute(
            sa.insert(idempotency_keys),
            [
                {
                    "workspace_id": globex,
                    "key": f"old-{i}",
                    "request_digest": b"x",
                    "meeting": "{}",
                    "created_at": long_ago,
                    "expires_at": long_ago + timedelta(seconds=i),
                }
                for i in range(250)
            ],
        )
        connection.commit()
    expire(database_url)
    del other

    answers = await asyncio.gather(*(keyed_create(client, tenant) for _ in range(RACERS)))

    assert [a.status_code for a in answers] == [201] * RACERS, [a.text for a in answers]
    ids = {a.json()["meetingId"] for a in answers}
    assert len(ids) == 1, ids
    assert ids != {first["meetingId"]}
    replayed = [a.headers.get(REPLAYED) == "true" for a in answers]
    assert replayed.count(False) == 1, replayed
    assert meeting_count(database_url) == 2
    assert_consistent(database_url)
