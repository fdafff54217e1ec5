"""Two repeats of a create whose Idempotency-Key expires just as they arrive, interleaved on
PostgreSQL step by step: exactly one of them may create a meeting.

The purge at the start of each keyed create removes a key that has expired; a key that expires
between the purge and the look-up is taken afresh by deleting and re-inserting it. Here the
second repeat finds the key expired; the first then deletes it, takes it afresh and creates its
meeting; the second's delete waits for the first to commit (and deletes nothing), after which
its own claim of the key fails because the first's row is there, and it must answer as the
first did rather than create a meeting of its own.

The test is white-box (it wraps functions of gong_meetings.storage.idempotency and moves the
service's clock) because no timing through the API reaches that interleaving reliably. SQLite
serializes writers, so it cannot happen there; the test uses a PostgreSQL database of its own.
"""

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from gong_meetings.records import Caller
from gong_meetings.service import meetings as meeting_service
from gong_meetings.service.accounts import AccountService
from gong_meetings.service.cursors import CursorCodec
from gong_meetings.service.meetings import Created, MeetingService
from gong_meetings.storage import idempotency as key_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from gong_meetings.storage.tables import workspaces
from gong_meetings.storage.timestamps import now
from gong_meetings.wire import CreateMeetingRequest
from tests.helpers import connect, make_tenant, meeting_body, stored_meetings
from tests.postgres import postgres_url, scratch_database
from tests.storage.derived_tables import assert_derived_tables_consistent

KEY = "expiring"
WAIT_SECONDS = 5.0
# How long the first transaction stays open once it has taken the key afresh and created its
# meeting, so that the second is waiting for it when it commits.
HOLD_SECONDS = 0.5


# Which of the racing requests a storage call belongs to: the transaction runs on a database
# thread, which sees the request's context, not its thread.
REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="")


def create_in_own_loop(database_url: str, caller: Caller, body: bytes) -> Created:
    """One create through the service, on a database handle and event loop of its own."""
    database = Database(database_url)
    service = MeetingService(database, "http://meetings.test", CursorCodec(b"s" * 32))
    request = msgspec.json.decode(body, type=CreateMeetingRequest)

    async def run() -> Created:
        try:
            return await service.create(caller, request, KEY)
        finally:
            await database.aclose()

    return asyncio.run(run())


def once(function: Callable[[], None]) -> Callable[[], None]:
    done = False

    def call() -> None:
        nonlocal done
        if not done:
            done = True
            function()

    return call


@pytest.fixture
def database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, so that no other test's TRUNCATE
    runs in the middle of the interleaving."""
    with scratch_database(postgres_url()) as url:
        database = Database(url)
        try:
            upgrade(database.engine)
        finally:
            database.close()
        yield url


@pytest.fixture
def accounts(database_url: str) -> Iterator[AccountService]:
    database = Database(database_url)
    yield AccountService(database)
    database.close()


def test_two_repeats_as_the_key_expires_create_one_meeting(
    database_url: str, accounts: AccountService, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(accounts, "acme")
    with connect(database_url) as connection:
        workspace_id = connection.execute(
            sa.select(workspaces.c.id).where(workspaces.c.name == "acme")
        ).scalar_one()
    caller = Caller(workspace_id, "acme")
    body = msgspec.json.encode(meeting_body(tenant.organizer))
    first = create_in_own_loop(database_url, caller, body)
    assert not first.replayed

    # From here on the service sees the key as expired, while the purge (which reads the clock
    # of gong_meetings.storage.idempotency) does not remove it: the key expires in between.
    real_now = now

    def a_day_later() -> datetime:
        return real_now() + timedelta(hours=25)

    monkeypatch.setattr(meeting_service, "now", a_day_later)

    second_found = threading.Event()
    first_done = threading.Event()
    real_find, real_record = key_store.find_key, key_store.record_answer

    @once
    def first_waits_for_second() -> None:
        second_found.wait(WAIT_SECONDS)

    @once
    def second_waits_for_first() -> None:
        second_found.set()
        first_done.wait(WAIT_SECONDS)

    @once
    def first_holds_its_locks() -> None:
        first_done.set()
        time.sleep(HOLD_SECONDS)

    def find_key(connection: sa.Connection, workspace: int, key: str) -> Any:
        name = REQUEST.get()
        if name == "first":
            first_waits_for_second()
        found = real_find(connection, workspace, key)
        if name == "second":
            second_waits_for_first()
        return found

    def record_answer(connection: sa.Connection, workspace: int, key: str, meeting: str) -> None:
        real_record(connection, workspace, key, meeting)
        if REQUEST.get() == "first":
            first_holds_its_locks()

    monkeypatch.setattr(key_store, "find_key", find_key)
    monkeypatch.setattr(key_store, "record_answer", record_answer)

    answers: dict[str, Created] = {}
    errors: list[BaseException] = []

    def repeat() -> None:
        REQUEST.set(threading.current_thread().name)
        try:
            answers[REQUEST.get()] = create_in_own_loop(database_url, caller, body)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=repeat, name=name) for name in ("second", "first")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=4 * WAIT_SECONDS)
        assert not thread.is_alive()

    assert errors == []
    assert second_found.is_set() and first_done.is_set()  # the interleaving did happen
    ids = {name: created.stored.meeting.id for name, created in answers.items()}
    rows = stored_meetings(database_url)
    # One meeting for the first create a day ago, and one for the key taken afresh.
    assert len(rows) == 2, (ids, [row[0] for row in rows])
    assert len(set(ids.values())) == 1, ids
    assert first.stored.meeting.id not in ids.values()
    assert sorted(created.replayed for created in answers.values()) == [False, True]
    with connect(database_url) as connection:
        assert_derived_tables_consistent(connection)
