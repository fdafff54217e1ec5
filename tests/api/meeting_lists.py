"""Helpers for the tests of reading meetings: a page of GET /v2/meetings, checked; a walk over
every page; the order a list must have; and meetings stored with ids a test chooses."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from gong_meetings.storage import accounts as account_store
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.wire import Meeting
from tests.helpers import assert_request_id

LIST_KEYS = {"requestId", "records", "meetings"}
RECORD_KEYS = {"totalRecords", "currentPageSize", "currentPageNumber"}
# Far more pages than any test walks: a cursor that never ends fails instead of hanging.
MAX_PAGES = 500

Auth = tuple[str, str] | None
Params = dict[str, Any]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def order_key(meeting: dict[str, Any]) -> tuple[datetime, int]:
    """Where a meeting belongs in a list: by scheduledStart, then by id as a number."""
    return instant(meeting["scheduledStart"]), int(meeting["id"])


def in_order(meetings: list[dict[str, Any]]) -> list[str]:
    """The ids of `meetings` in the order a list must show them."""
    return [m["id"] for m in sorted(meetings, key=order_key)]


def ids(meetings: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in meetings]


def assert_page(response: httpx.Response) -> dict[str, Any]:
    """A 200 list page of exactly the documented shape; returns the body."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == LIST_KEYS, body
    assert body["requestId"] == assert_request_id(response)
    records = body["records"]
    assert set(records) in (RECORD_KEYS, RECORD_KEYS | {"cursor"}), records
    assert records["currentPageSize"] == len(body["meetings"]), records
    assert isinstance(records["totalRecords"], int) and records["totalRecords"] >= 0
    if "cursor" in records:
        assert isinstance(records["cursor"], str) and records["cursor"], records
    return body


async def list_page(
    client: httpx.AsyncClient, auth: Auth, params: Params | None = None, **kwargs: Any
) -> dict[str, Any]:
    """One page, asserted to be a 200 of the list shape."""
    response = await client.get("/v2/meetings", params=params or {}, auth=auth, **kwargs)
    return assert_page(response)


async def list_ids(client: httpx.AsyncClient, auth: Auth, **params: Any) -> list[str]:
    """The ids on a single page (limit 100 unless given), which must be the last page."""
    body = await list_page(client, auth, params)
    assert "cursor" not in body["records"], body["records"]
    assert body["records"]["totalRecords"] == len(body["meetings"]), body["records"]
    return ids(body["meetings"])


async def walk(
    client: httpx.AsyncClient,
    auth: Auth,
    params: Params | None = None,
    *,
    between: Callable[[int, list[dict[str, Any]]], Awaitable[None]] | None = None,
    repeat_filters: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a list: (the meetings in the order received, each page's records).

    Checks what holds of any walk: pages numbered 0, 1, 2...; the total of the first page on
    every page; a cursor on every page but the last; full pages before the last. `between`
    runs after each page that has a cursor, with that page's number and the meetings so far.
    """
    first = dict(params or {})
    limit = int(first.get("limit", 100))
    filters = {k: v for k, v in first.items() if k not in ("limit", "cursor")}
    meetings: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    query = first
    for number in range(MAX_PAGES):
        body = await list_page(client, auth, query)
        records = body["records"]
        pages.append(records)
        meetings.extend(body["meetings"])
        assert records["currentPageNumber"] == number, pages
        assert records["totalRecords"] == pages[0]["totalRecords"], pages
        if "cursor" not in records:
            assert len(body["meetings"]) <= limit, records
            return meetings, pages
        assert len(body["meetings"]) == limit, records
        if between is not None:
            await between(number, list(meetings))
        query = {"cursor": records["cursor"]}
        if "limit" in first:
            query["limit"] = first["limit"]
        if repeat_filters:
            query.update(filters)
    raise AssertionError(f"more than {MAX_PAGES} pages")


def store_meeting(
    database_url: str,
    workspace: str,
    meeting_id: int,
    start: datetime,
    organizer: str,
    title: str = "Stored directly",
) -> dict[str, Any]:
    """A meeting with an id the test chooses, stored as the server stores one; returned as the
    API shows it (without the optional fields)."""
    meeting = Meeting(
        id=str(meeting_id),
        title=title,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        organizer_email=organizer,
        meeting_url=f"https://meet.example.com/{meeting_id}",
        attendees=[],
    )
    database = Database(database_url)
    try:

        def work(connection: Any) -> bool:
            found = account_store.find_workspace(connection, workspace)
            assert found is not None, workspace
            return meeting_store.insert_meeting(connection, found.id, meeting)

        assert database.transaction(work)
    finally:
        database.close()
    return {"id": str(meeting_id), "scheduledStart": start.isoformat()}
