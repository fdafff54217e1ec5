"""GET and lists show each meeting from the JSON stored with it (migration 0006). A row that an
older gong-meetings wrote or changed has no JSON, or one of an older version: it is shown from
its columns. Either way a meeting is shown exactly as its columns hold it.

Everything runs on both databases.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.wire import encode
from tests.api.meeting_lists import walk
from tests.helpers import Tenant, connect, create_meeting

START = datetime(2030, 6, 1, 9, tzinfo=UTC)
ATTENDEES = [
    {"emailAddress": "Ann@Example.com", "name": "Ann", "responseStatus": "Accepted"},
    {"name": "Someone without an address, 名前"},
]


async def make_meetings(client: httpx.AsyncClient, tenant: Tenant, count: int) -> list[str]:
    """`count` meetings with every field, two to a start, so pages end inside runs of ties."""
    ids = []
    for n in range(count):
        start = START + timedelta(hours=n // 2)
        body = await create_meeting(
            client,
            tenant,
            title=f'Meeting {n}: "quoted" \\ and \u2028',
            scheduledStart=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            scheduledEnd=(start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            attendees=ATTENDEES,
            description=f"Agenda {n}",
            meetingProvider="Zoom",
            externalMeetingId=f"ext-{n}",
        )
        ids.append(body["meetingId"])
    return ids


def from_columns(database_url: str, meeting_id: str) -> Any:
    """The meeting as its columns hold it, as the API writes a meeting."""
    database = Database(database_url)
    try:

        def read(connection: sa.Connection) -> Any:
            workspace_id = connection.execute(
                sa.text("SELECT workspace_id FROM meetings WHERE id = :id"), {"id": int(meeting_id)}
            ).scalar_one()
            stored = meeting_store.get_meeting(connection, workspace_id, int(meeting_id))
            assert stored is not None
            return msgspec.json.decode(encode(stored.meeting))

        return database.transaction(read)
    finally:
        database.close()


async def shown_by_get(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> Any:
    response = await client.get(f"/v2/meetings/{meeting_id}", auth=tenant.auth)
    assert response.status_code == 200, response.text
    return response.json()["meeting"]


async def assert_shown_as_the_columns_hold_them(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, ids: list[str]
) -> None:
    """GET shows each meeting as its columns hold it; and walked a page of 3 at a time,
    unfiltered and filtered by organizer and by attendee (a different query each), so does
    the list, once each."""
    expected = {meeting_id: from_columns(database_url, meeting_id) for meeting_id in ids}
    for meeting_id in ids:
        assert await shown_by_get(client, tenant, meeting_id) == expected[meeting_id]
    for params in (
        {},
        {"organizerEmail": tenant.organizer},
        {"attendeeEmail": "ann@example.com"},
    ):
        listed, _ = await walk(client, tenant.auth, {"limit": 3, **params})
        assert {meeting["id"]: meeting for meeting in listed} == expected, params
        assert len(listed) == len(ids)


def stored_json(database_url: str) -> dict[str, tuple[int, int | None, str | None]]:
    """Each meeting's version, and the version and text of its stored JSON."""
    with connect(database_url) as connection:
        rows = connection.execute(sa.text("SELECT id, version, shown_version, shown FROM meetings"))
        return {str(row[0]): (row[1], row[2], row[3]) for row in rows}


def as_an_older_version_writes(database_url: str, sql: str, meeting_id: str) -> None:
    with connect(database_url) as connection:
        connection.execute(sa.text(sql), {"id": int(meeting_id)})
        connection.commit()


async def test_creates_and_updates_store_the_json_the_columns_make(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    ids = await make_meetings(client, tenant, 3)
    changed = await client.put(
        f"/v2/meetings/{ids[1]}",
        json={"title": "Changed", "description": "New agenda", "meetingProvider": "Webex"},
        auth=tenant.auth,
    )
    assert changed.status_code == 200, changed.text

    stored = stored_json(database_url)

    assert {meeting_id: stored[meeting_id][:2] for meeting_id in ids} == {
        ids[0]: (1, 1),
        ids[1]: (2, 2),
        ids[2]: (1, 1),
    }
    for meeting_id in ids:
        text = stored[meeting_id][2]
        assert text is not None
        assert msgspec.json.decode(text) == from_columns(database_url, meeting_id)
    await assert_shown_as_the_columns_hold_them(client, tenant, database_url, ids)


async def test_rows_an_older_version_wrote_or_changed_are_listed_from_their_columns(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    ids = await make_meetings(client, tenant, 8)
    # Inserted by a version before 0006: no JSON at all.
    for meeting_id in ids[1:3]:
        as_an_older_version_writes(
            database_url,
            "UPDATE meetings SET shown = NULL, shown_version = NULL WHERE id = :id",
            meeting_id,
        )
    # Updated by one: its columns and version change, its stored JSON stays as it was.
    for meeting_id in (ids[2], ids[5], ids[7]):
        as_an_older_version_writes(
            database_url,
            "UPDATE meetings SET title = 'Changed by an older version',"
            " description = NULL, version = version + 1 WHERE id = :id",
            meeting_id,
        )

    await assert_shown_as_the_columns_hold_them(client, tenant, database_url, ids)
    walked, _ = await walk(client, tenant.auth, {"limit": 3})
    listed = {meeting["id"]: meeting for meeting in walked}
    changed = {ids[2], ids[5], ids[7]}
    assert {i for i, m in listed.items() if m["title"] == "Changed by an older version"} == changed
    assert all("description" not in listed[meeting_id] for meeting_id in changed)

    # Written again by this version, a meeting has its JSON once more.
    response = await client.put(f"/v2/meetings/{ids[5]}", json={"title": "Now"}, auth=tenant.auth)
    assert response.status_code == 200, response.text
    version, shown_version, text = stored_json(database_url)[ids[5]]
    assert (version, shown_version) == (3, 3)
    assert text is not None and msgspec.json.decode(text)["title"] == "Now"
    await assert_shown_as_the_columns_hold_them(client, tenant, database_url, ids)


def test_a_meeting_gone_before_its_columns_are_read_is_left_out(
    accounts: AccountService, database_url: str
) -> None:
    """Rows without JSON are read again by id, by a second statement, which need not see the
    first one's snapshot: a meeting deleted in between is left out of the page, and the page
    still ends where the first statement's rows said it would."""
    database = Database(database_url)
    try:

        def page(connection: sa.Connection) -> meeting_store.ListedPage:
            rows = [
                (START, 1, '{"id":"1"}'),
                (START, 2, None),  # no such meeting: deleted since
                (START, 3, '{"id":"3"}'),
                (START, 4, '{"id":"4"}'),  # one more than the page: another page follows
            ]
            return meeting_store._listed(connection, 1, rows, 3)

        listed = database.transaction(page)
    finally:
        database.close()

    assert [bytes(meeting) for meeting in listed.meetings] == [b'{"id":"1"}', b'{"id":"3"}']
    assert listed.last == (START, 3)
