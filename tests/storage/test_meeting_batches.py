"""Creates stored together (storage.meetings.insert_meetings, Database.run_batched): each
request's own outcome, people and counts kept in step, one transaction for the creates of a
moment on PostgreSQL, and a create the database refuses failing alone."""

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.meetings import NewMeeting
from tests.helpers import Tenant, make_tenant, meeting_body
from tests.postgres import empty_tables
from tests.storage.test_meeting_people import (
    a_meeting,
    check,
    counts_of,
    people_of,
    workspace_ids,
)

CONCURRENT = 20


def with_workspaces(url: str) -> Database:
    """The migrated database at `url` with workspaces `acme` and `globex`, and acme's user
    boss@acme.test."""
    database = Database(url)
    accounts = AccountService(database)
    accounts.create_workspace("acme")
    accounts.create_workspace("globex")
    accounts.add_user("acme", "boss@acme.test", "Boss")
    return database


@pytest.fixture
def database(database_url: str, accounts: AccountService) -> Iterator[Database]:
    """On SQLite and on PostgreSQL (the `accounts` fixture builds the schema)."""
    database = with_workspaces(database_url)
    yield database
    database.close()


@pytest.fixture
def postgres(postgres_schema: str) -> Iterator[Database]:
    """On PostgreSQL only: SQLite's group commit shares its transactions already."""
    empty_tables(postgres_schema)
    database = with_workspaces(postgres_schema)
    yield database
    database.close()


def test_each_create_of_a_batch_gets_its_own_outcome(database: Database) -> None:
    ids = workspace_ids(database)
    acme, globex = ids["acme"], ids["globex"]
    taken = [NewMeeting(acme, a_meeting(n, "boss@acme.test"), None) for n in (3, 4, 5)]
    assert database.transaction(lambda c: meeting_store.insert_meetings(c, taken)) == [True] * 3
    batch = [
        NewMeeting(acme, a_meeting(10, "Boss@Acme.Test", "ann@x.test"), "boss@acme.test"),
        NewMeeting(acme, a_meeting(11, "stranger@acme.test"), "stranger@acme.test"),
        NewMeeting(globex, a_meeting(3, "boss@acme.test"), None),
        NewMeeting(globex, a_meeting(12, "g@globex.test", "bo@x.test", "cy@x.test"), None),
        NewMeeting(acme, a_meeting(13, "boss@acme.test"), None),
        # An id taken, with an organizer the workspace has, then with one it has not.
        NewMeeting(acme, a_meeting(4, "boss@acme.test"), "boss@acme.test"),
        NewMeeting(acme, a_meeting(5, "stranger@acme.test"), "stranger@acme.test"),
    ]

    outcomes = database.transaction(lambda c: meeting_store.insert_meetings(c, batch))

    assert outcomes == [True, None, False, True, True, False, None]
    stored = {row[0] for row in people_of(database)}
    assert stored == {3, 4, 5, 10, 12, 13}  # not 11 (unknown organizer), 3 is still acme's
    assert counts_of(database) == {acme: 5, globex: 1}
    check(database)


def count_commits(database: Database) -> list[int]:
    """How many transactions the server's pool commits from now on."""
    commits = [0]
    engine = database._postgres_engine().sync_engine

    @sa.event.listens_for(engine, "commit")
    def counted(_connection: Any) -> None:
        commits[0] += 1

    return commits


def test_the_creates_of_a_moment_share_one_transaction(postgres: Database) -> None:
    database = postgres
    acme = workspace_ids(database)["acme"]
    commits = count_commits(database)
    meetings = [a_meeting(100 + n, "boss@acme.test", f"p{n}@x.test") for n in range(CONCURRENT)]

    async def create_all() -> list[bool | None]:
        try:
            return await asyncio.gather(
                *(
                    database.run_batched(
                        meeting_store.insert_meetings, NewMeeting(acme, m, "boss@acme.test")
                    )
                    for m in meetings
                )
            )
        finally:
            await database.aclose()

    outcomes = asyncio.run(create_all())

    assert outcomes == [True] * CONCURRENT
    assert commits[0] == 1
    assert counts_of(database) == {acme: CONCURRENT}
    check(database)


def test_a_create_the_database_refuses_fails_alone(postgres: Database) -> None:
    database = postgres
    acme = workspace_ids(database)["acme"]
    no_such_workspace = 999_999  # the meeting's foreign key refuses it
    batch = [NewMeeting(acme, a_meeting(200 + n, "boss@acme.test"), None) for n in range(4)]
    batch[2] = NewMeeting(no_such_workspace, a_meeting(202, "boss@acme.test"), None)

    async def create_all() -> list[Any]:
        try:
            return await asyncio.gather(
                *(database.run_batched(meeting_store.insert_meetings, new) for new in batch),
                return_exceptions=True,
            )
        finally:
            await database.aclose()

    outcomes = asyncio.run(create_all())

    assert outcomes[:2] == [True, True] and outcomes[3] is True
    assert isinstance(outcomes[2], IntegrityError)
    assert {row[0] for row in people_of(database)} == {200, 201, 203}
    assert counts_of(database) == {acme: 3}
    check(database)


async def test_concurrent_creates_over_http_each_get_their_own_answer(
    client: httpx.AsyncClient, accounts: AccountService
) -> None:
    """Known organizers are stored, unknown ones refused (this workspace provisions no
    users), whether or not they were stored together."""
    tenant: Tenant = make_tenant(accounts, "acme")
    organizers = [tenant.organizer if n % 3 else f"new{n}@acme.test" for n in range(CONCURRENT)]

    responses = await asyncio.gather(
        *(client.post("/v2/meetings", json=meeting_body(o), auth=tenant.auth) for o in organizers)
    )

    statuses = [r.status_code for r in responses]
    assert statuses == [201 if n % 3 else 400 for n in range(CONCURRENT)]
    refused = [r.json()["errors"][0] for r in responses if r.status_code == 400]
    assert all("is not a user of this workspace" in e for e in refused), refused
    ids = {r.json()["meetingId"] for r in responses if r.status_code == 201}
    listed = (await client.get("/v2/meetings", auth=tenant.auth)).json()
    assert {m["id"] for m in listed["meetings"]} == ids
    assert listed["records"]["totalRecords"] == len(ids)
