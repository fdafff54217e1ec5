"""meeting_people and meeting_counts kept in step with meetings by every insert, replace and
delete: the storage functions one by one, then a long random run through the API. On SQLite
and on PostgreSQL."""

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.meetings import MeetingFilter
from gong_meetings.storage.tables import meetings, workspaces
from gong_meetings.wire import Meeting, MeetingAttendee
from tests.helpers import Tenant, connect, make_tenant, meeting_body
from tests.storage.derived_tables import (
    assert_derived_tables_consistent,
    expected_people,
    stored_counts,
    stored_people,
)

START = datetime(2030, 1, 15, 10, tzinfo=UTC)
# Steps of the random run, and the seeds it is run with.
STEPS = 60
SEEDS = [1, 2]


@pytest.fixture
def database(database_url: str, accounts: AccountService) -> Iterator[Database]:
    """The migrated test database with workspaces `acme` and `globex`."""
    accounts.create_workspace("acme")
    accounts.create_workspace("globex")
    db = Database(database_url)
    yield db
    db.close()


def workspace_ids(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {row.name: row.id for row in connection.execute(sa.select(workspaces))}


def a_meeting(
    meeting_id: int, organizer: str, *emails: str | None, start: datetime = START
) -> Meeting:
    return Meeting(
        id=str(meeting_id),
        title="T",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        organizer_email=organizer,
        meeting_url="https://meet.example/x",
        attendees=[
            MeetingAttendee(name="N") if e is None else MeetingAttendee(email_address=e)
            for e in emails
        ],
    )


def insert(database: Database, workspace_id: int, meeting: Meeting) -> bool:
    return database.transaction(lambda c: meeting_store.insert_meeting(c, workspace_id, meeting))


def people_of(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as connection:
        return stored_people(connection)


def counts_of(database: Database) -> dict[int, int]:
    with database.engine.connect() as connection:
        return stored_counts(connection)


def check(database: Database) -> None:
    with database.engine.connect() as connection:
        assert_derived_tables_consistent(connection)


# --- the storage functions ------------------------------------------------------------------


def test_insert_adds_the_people_once_each_and_counts_the_meeting(database: Database) -> None:
    ids = workspace_ids(database)
    acme = ids["acme"]
    meeting = a_meeting(
        11, "Boss@Acme.Test", "ann@x.test", "ANN@x.test", None, "boss@acme.test", "bob@x.test"
    )

    assert database.transaction(lambda c: meeting_store.insert_meeting(c, acme, meeting))

    assert people_of(database) == sorted(
        [
            (11, "ATTENDEE", "ann@x.test", acme, START),
            (11, "ATTENDEE", "bob@x.test", acme, START),
            (11, "ATTENDEE", "boss@acme.test", acme, START),
            (11, "ORGANIZER", "boss@acme.test", acme, START),
        ]
    )
    assert counts_of(database) == {acme: 1}
    check(database)


def test_an_insert_whose_id_is_taken_changes_nothing(database: Database) -> None:
    ids = workspace_ids(database)
    first = a_meeting(7, "a@acme.test", "x@x.test")
    assert database.transaction(lambda c: meeting_store.insert_meeting(c, ids["acme"], first))
    before = (people_of(database), counts_of(database))

    taken = a_meeting(7, "other@globex.test", "y@y.test")
    assert not database.transaction(lambda c: meeting_store.insert_meeting(c, ids["globex"], taken))

    assert (people_of(database), counts_of(database)) == before
    check(database)


def test_replace_moves_the_people_with_the_meeting(database: Database) -> None:
    acme = workspace_ids(database)["acme"]
    first = a_meeting(5, "o@acme.test", "a@x.test")
    database.transaction(lambda c: meeting_store.insert_meeting(c, acme, first))
    later = START + timedelta(days=3)
    changed = a_meeting(5, "o@acme.test", "B@x.test", None, "c@x.test", start=later)

    version = database.transaction(
        lambda c: meeting_store.replace_meeting(c, acme, changed, 1, first)
    )

    assert version == 2
    assert people_of(database) == sorted(
        [
            (5, "ATTENDEE", "b@x.test", acme, later),
            (5, "ATTENDEE", "c@x.test", acme, later),
            (5, "ORGANIZER", "o@acme.test", acme, later),
        ]
    )
    assert counts_of(database) == {acme: 1}
    # And to no attendees at all.
    database.transaction(
        lambda c: meeting_store.replace_meeting(c, acme, a_meeting(5, "o@acme.test"), 2, changed)
    )
    assert people_of(database) == [(5, "ORGANIZER", "o@acme.test", acme, START)]
    check(database)


def test_replace_moves_the_people_when_only_the_start_changes(database: Database) -> None:
    acme = workspace_ids(database)["acme"]
    first = a_meeting(5, "o@acme.test", "a@x.test")
    database.transaction(lambda c: meeting_store.insert_meeting(c, acme, first))
    later = START + timedelta(hours=1)
    moved = a_meeting(5, "o@acme.test", "a@x.test", start=later)
    database.transaction(lambda c: meeting_store.replace_meeting(c, acme, moved, 1, first))
    assert people_of(database) == [
        (5, "ATTENDEE", "a@x.test", acme, later),
        (5, "ORGANIZER", "o@acme.test", acme, later),
    ]
    # A change that leaves the people alone (the title) keeps their rows right.
    retitled = msgspec.structs.replace(moved, title="Renamed")
    database.transaction(lambda c: meeting_store.replace_meeting(c, acme, retitled, 2, moved))
    assert people_of(database) == [
        (5, "ATTENDEE", "a@x.test", acme, later),
        (5, "ORGANIZER", "o@acme.test", acme, later),
    ]
    check(database)


def test_replace_moves_the_people_when_only_the_organizer_changes(database: Database) -> None:
    acme = workspace_ids(database)["acme"]
    first = a_meeting(5, "o@acme.test", "a@x.test")
    database.transaction(lambda c: meeting_store.insert_meeting(c, acme, first))
    handed_over = a_meeting(5, "New@acme.test", "a@x.test")
    database.transaction(lambda c: meeting_store.replace_meeting(c, acme, handed_over, 1, first))
    assert people_of(database) == [
        (5, "ATTENDEE", "a@x.test", acme, START),
        (5, "ORGANIZER", "new@acme.test", acme, START),
    ]
    # Only the case of the organizer's email: the same rows.
    recased = a_meeting(5, "NEW@ACME.TEST", "a@x.test")
    database.transaction(lambda c: meeting_store.replace_meeting(c, acme, recased, 2, handed_over))
    assert people_of(database) == [
        (5, "ATTENDEE", "a@x.test", acme, START),
        (5, "ORGANIZER", "new@acme.test", acme, START),
    ]
    check(database)


def test_delete_removes_the_people_and_uncounts_the_meeting(database: Database) -> None:
    ids = workspace_ids(database)
    acme, globex = ids["acme"], ids["globex"]
    for meeting_id, workspace in ((1, acme), (2, acme), (3, globex)):
        insert(database, workspace, a_meeting(meeting_id, "o@w.test", f"a{meeting_id}@x.test"))
    assert counts_of(database) == {acme: 2, globex: 1}

    assert database.transaction(lambda c: meeting_store.delete_meeting(c, acme, 1))
    # Missing, or another workspace's: nothing changes.
    assert not database.transaction(lambda c: meeting_store.delete_meeting(c, acme, 1))
    assert not database.transaction(lambda c: meeting_store.delete_meeting(c, acme, 3))
    assert not database.transaction(lambda c: meeting_store.delete_meeting(c, globex, 2))

    assert counts_of(database) == {acme: 1, globex: 1}
    assert {row[0] for row in people_of(database)} == {2, 3}
    assert database.transaction(lambda c: meeting_store.delete_meeting(c, acme, 2))
    assert counts_of(database) == {acme: 0, globex: 1}
    check(database)


def test_counts_and_filtered_counts_follow_the_tables(database: Database) -> None:
    acme = workspace_ids(database)["acme"]
    for meeting_id in range(1, 6):
        attendees = ["ann@x.test"] if meeting_id % 2 else []
        meeting = a_meeting(meeting_id, "O@acme.test", *attendees)
        insert(database, acme, meeting)
    database.transaction(lambda c: meeting_store.delete_meeting(c, acme, 5))

    def count(where: MeetingFilter) -> int:
        return database.transaction(lambda c: meeting_store.count_meetings(c, acme, where))

    assert count(MeetingFilter()) == 4
    assert count(MeetingFilter(attendee="ann@x.test")) == 2
    assert count(MeetingFilter(organizer="o@acme.test")) == 4
    assert count(MeetingFilter(organizer="nobody@acme.test")) == 0


def test_a_first_page_comes_with_the_kept_count(database: Database) -> None:
    ids = workspace_ids(database)
    acme, globex = ids["acme"], ids["globex"]
    assert database.transaction(lambda c: meeting_store.first_page(c, acme, 3)) == (
        0,
        meeting_store.ListedPage([], None),
    )
    for meeting_id in range(1, 6):
        start = START + timedelta(hours=6 - meeting_id)  # the last made is the first listed
        insert(database, acme, a_meeting(meeting_id, "o@acme.test", start=start))
    insert(database, globex, a_meeting(9, "o@globex.test"))
    database.transaction(lambda c: meeting_store.delete_meeting(c, acme, 4))

    total, page = database.transaction(lambda c: meeting_store.first_page(c, acme, 3))

    assert total == 4
    assert [msgspec.json.decode(m)["id"] for m in page.meetings] == ["5", "3", "2"]
    assert page.last == (START + timedelta(hours=4), 2)  # one more follows: meeting 1
    assert database.transaction(lambda c: meeting_store.first_page(c, globex, 3))[0] == 1


# --- a random run through the API -----------------------------------------------------------


def random_attendees(rng: random.Random, tenant: Tenant) -> list[dict[str, Any]]:
    pool = ["ann@x.test", "ANN@X.test", "bob@y.test", "Cy@z.test", tenant.organizer.upper()]
    attendees: list[dict[str, Any]] = []
    for _ in range(rng.randint(0, 5)):
        if rng.random() < 0.2:
            attendees.append({"name": "No address"})
        else:
            attendees.append({"emailAddress": rng.choice(pool), "responseStatus": "Accepted"})
    return attendees


def random_start(rng: random.Random) -> datetime:
    return START + timedelta(minutes=15 * rng.randint(0, 400))


def text(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_creates_updates_and_deletes_keep_the_tables_in_step(
    client: httpx.AsyncClient, accounts: AccountService, database_url: str, seed: int
) -> None:
    rng = random.Random(seed)
    tenants = [make_tenant(accounts, "acme"), make_tenant(accounts, "globex")]
    make_tenant(accounts, "quiet")  # never has a meeting
    live: dict[str, Tenant] = {}

    for step in range(STEPS):
        action = rng.choice(["create", "create", "update", "delete"]) if live else "create"
        if action == "create":
            tenant = rng.choice(tenants)
            start = random_start(rng)
            organizer = rng.choice([tenant.organizer, tenant.organizer.title()])
            body = meeting_body(
                organizer,
                scheduledStart=text(start),
                scheduledEnd=text(start + timedelta(hours=1)),
                attendees=random_attendees(rng, tenant),
            )
            response = await client.post("/v2/meetings", json=body, auth=tenant.auth)
            assert response.status_code == 201, response.text
            live[response.json()["meetingId"]] = tenant
        elif action == "update":
            meeting_id = rng.choice(sorted(live))
            tenant = live[meeting_id]
            change: dict[str, Any] = {}
            if rng.random() < 0.7:
                change["attendees"] = random_attendees(rng, tenant)
            if rng.random() < 0.5:
                start = random_start(rng)
                change["scheduledStart"] = text(start)
                change["scheduledEnd"] = text(start + timedelta(minutes=30))
            response = await client.put(f"/v2/meetings/{meeting_id}", json=change, auth=tenant.auth)
            assert response.status_code == 200, response.text
        else:
            meeting_id = rng.choice(sorted(live))
            response = await client.delete(
                f"/v2/meetings/{meeting_id}", auth=live.pop(meeting_id).auth
            )
            assert response.status_code == 200, response.text
        with connect(database_url) as connection:
            assert_derived_tables_consistent(connection)
            stored = {str(i) for i in connection.execute(sa.select(meetings.c.id)).scalars()}
        assert stored == set(live), step

    # What the lists say agrees with the tables recomputed from scratch.
    for tenant in tenants:
        mine = {i for i, t in live.items() if t is tenant}
        listed = await client.get("/v2/meetings", auth=tenant.auth)
        assert listed.status_code == 200, listed.text
        assert listed.json()["records"]["totalRecords"] == len(mine)
        with connect(database_url) as connection:
            rows = connection.execute(
                sa.select(meetings).where(meetings.c.id.in_([int(i) for i in mine]))
            ).all()
        people: set[tuple[Any, ...]] = set()
        for row in rows:
            people |= expected_people(
                int(row.id), row.workspace_id, row.organizer_email, json.loads(row.attendees), START
            )
        for email in ("ann@x.test", "bob@y.test", "cy@z.test"):
            expected = {str(p[0]) for p in people if p[1] == "ATTENDEE" and p[2] == email}
            found = await client.get(
                "/v2/meetings", params={"attendeeEmail": email}, auth=tenant.auth
            )
            assert found.status_code == 200, found.text
            assert {m["id"] for m in found.json()["meetings"]} == expected, email
            assert found.json()["records"]["totalRecords"] == len(expected)


def test_a_meeting_stored_by_either_writer_reads_back_and_sorts_alike(database: Database) -> None:
    """insert_meeting writes plain SQL through the driver, insert_many through SQLAlchemy: on
    SQLite both must store a date-time as the same text, or lists would sort them apart."""
    acme = workspace_ids(database)["acme"]
    start = datetime(2030, 1, 15, 10, 0, 0, 500, tzinfo=UTC)
    by_driver = a_meeting(1, "o@acme.test", "a@acme.test", start=start)
    by_sqlalchemy = a_meeting(2, "o@acme.test", "a@acme.test", start=start)
    assert insert(database, acme, by_driver)
    database.transaction(lambda c: meeting_store.insert_many(c, acme, [by_sqlalchemy]))
    with connect(database.url.render_as_string(hide_password=False)) as connection:
        stored = connection.execute(
            sa.text(
                "SELECT m.id, m.scheduled_start, m.scheduled_end, p.scheduled_start"
                " FROM meetings m JOIN meeting_people p ON p.meeting_id = m.id"
                " WHERE p.role = 'ORGANIZER' ORDER BY m.id"
            )
        ).all()
    assert [row[0] for row in stored] == [1, 2]
    assert stored[0][1:] == stored[1][1:]
    for meeting in (by_driver, by_sqlalchemy):
        found = database.transaction(
            lambda c, m=meeting: meeting_store.get_meeting(c, acme, int(m.id))
        )
        assert found is not None
        assert found.meeting == meeting
