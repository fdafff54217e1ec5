"""The Python SDK, sync and async, against a real `gong-meetings serve` on a real socket
(issue 7, point 4): every method, every typed error, a 429 waited out and retried to success,
paging through 250 meetings, idempotent creates, the environment fallbacks, closing, and the
README's examples as written. A 5xx is provoked honestly too: with its meetings table renamed
away, the server answers 503 with Retry-After.

One server serves most tests. Its SQLite database is prepared with the CLI's own commands (run
in this process, to spare an interpreter start-up per command), one workspace per need: `roomy`
(limits out of the way; alice and carol are users, alice has Zoom active), `daily-sync` and
`daily-async` (1 call a day), `per-second` (1 call a second) and `paging` (250 meetings). Each
test works in its own day of the calendar or with its own attendee address, so the tests
sharing `roomy` do not see each other's meetings.

Every twin test runs twice, through `Client` and through `AsyncClient`; `Twin` lets one test
body await either. The clients get a recording transport (httpx's own, wrapped), so a test can
count the requests that went out and compare an error's request id with the response header.
"""

import inspect
import io
import itertools
import json
import math
import os
import random
import re
import socket
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    redirect_stderr,
    redirect_stdout,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from gong_meetings import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Forbidden,
    GongMeetingsError,
    IntegrationStatusResponse,
    Meeting,
    MeetingAttendee,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    Unauthorized,
)
from gong_meetings.cli import main
from tests.system.live import (
    SCRIPT,
    STARTUP_DEADLINE_SECONDS,
    Server,
    free_port,
    running_server,
    server_env,
    stop_hard,
    wait_until_ready,
)

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

ROOT = Path(__file__).resolve().parents[2]
REQUEST_ID = re.compile(r"^[a-z0-9]{19}$")
ENV_NAMES = ("GONG_MEETINGS_BASE_URL", "GONG_ACCESS_KEY", "GONG_ACCESS_KEY_SECRET")
BEARER_ENV = "GONG_BEARER_TOKEN"

ROOMY = "roomy"
ALICE = "alice@roomy.test"
CAROL = "carol@roomy.test"
ZOOM_DETAILS = "connected by the SDK tests"
ROOMY_LIMITS = ("--rate-limit-per-second", "100000", "--rate-limit-per-day", "1000000")
PAGED = 250
PAGING_ORGANIZER = "pager@paging.test"
# Generous for a local call, so a hang fails instead of blocking; far below the SDK's 30 s.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Site:
    """The shared server and what the tests call it with."""

    base_url: str
    database: Path
    keys: dict[str, tuple[str, str]]
    full_token: str
    create_only_token: str


def cli(database_url: str, *args: str) -> str:
    """`gong-meetings ARGS` on `database_url`, run in this process: the console script's own
    code, without an interpreter start-up per command. It must succeed; its stdout."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        for name in list(os.environ):
            if name.startswith("GONG_MEETINGS_"):
                patch.delenv(name)
        patch.setenv("GONG_MEETINGS_DATABASE_URL", database_url)
        try:
            main(list(args))
        except SystemExit as stop:
            pytest.fail(f"gong-meetings {' '.join(args)} exited {stop.code}: {err.getvalue()}")
    return out.getvalue()


def workspace(database_url: str, name: str, *options: str) -> tuple[str, str]:
    """Workspace `name` with `options`, and a new key for it."""
    cli(database_url, "workspaces", "create", name, *options)
    created = json.loads(cli(database_url, "keys", "create", "--workspace", name, "--json"))
    return created["accessKey"], created["accessKeySecret"]


def token(database_url: str, *scopes: str) -> str:
    """A bearer token of workspace `roomy` with `scopes` (all of them when none is given)."""
    scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
    issued = cli(database_url, "tokens", "issue", "--workspace", ROOMY, *scope_args, "--json")
    token: str = json.loads(issued)["accessToken"]
    return token


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("sdk-live")
    cwd = root / "work"
    cwd.mkdir()
    database = cwd / "sdk.db"
    url = f"sqlite:///{database}"
    cli(url, "migrate")
    keys = {
        name: workspace(url, name, *options)
        for name, options in {
            ROOMY: ROOMY_LIMITS,
            "daily-sync": ("--rate-limit-per-second", "1000", "--rate-limit-per-day", "1"),
            "daily-async": ("--rate-limit-per-second", "1000", "--rate-limit-per-day", "1"),
            "per-second": ("--rate-limit-per-second", "1", "--auto-provision-users"),
            "paging": (*ROOMY_LIMITS, "--auto-provision-users"),
        }.items()
    }
    for user in (ALICE, CAROL):
        cli(url, "users", "add", user, "--workspace", ROOMY)
    set_zoom = ("integrations", "set", ALICE, "zoom", "Active", "--workspace", ROOMY)
    cli(url, *set_zoom, "--details", ZOOM_DETAILS)
    tokens = token(url), token(url, "api:meetings:user:create")
    with running_server(cwd, server_env(url), root / "logs") as server:
        yield Site(server.base_url, database, keys, *tokens)


# --- one test body for both clients -------------------------------------------------------


@dataclass
class Recorder:
    """Every request the client sent and every response it got, in order."""

    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)

    def statuses(self) -> list[int]:
        return [response.status_code for response in self.responses]


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.requests.append(request)
        response = super().handle_request(request)
        self.recorder.responses.append(response)
        return response


class RecordingAsyncTransport(httpx.AsyncHTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.requests.append(request)
        response = await super().handle_async_request(request)
        self.recorder.responses.append(response)
        return response


class Twin:
    """A `Client` or an `AsyncClient` whose methods are all awaited, and lists made lists."""

    def __init__(self, client: Client | AsyncClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            # The async client's methods are coroutines; the sync client's answer at once.
            assert inspect.isawaitable(result) == isinstance(self.client, AsyncClient), name
            return await result if inspect.isawaitable(result) else result

        return call

    async def list_meetings(self, **filters: Any) -> list[Meeting]:
        if isinstance(self.client, AsyncClient):
            pages = self.client.list_meetings(**filters)
            assert isinstance(pages, AsyncIterator)
            return [meeting async for meeting in pages]
        found = self.client.list_meetings(**filters)
        assert isinstance(found, Iterator)
        return list(found)


@asynccontextmanager
async def connect(kind: str, base_url: str | None, **options: Any) -> AsyncIterator[Twin]:
    """A `kind` ("sync" or "async") client of `base_url`, used as a context manager."""
    recorder = Recorder()
    options.setdefault("timeout", TIMEOUT)
    if kind == "sync":
        with Client(base_url, transport=RecordingTransport(recorder), **options) as client:
            yield Twin(client, recorder)
    else:
        transport = RecordingAsyncTransport(recorder)
        async with AsyncClient(base_url, transport=transport, **options) as aclient:
            yield Twin(aclient, recorder)


def as_workspace(
    kind: str, site: Site, name: str = ROOMY, **options: Any
) -> AbstractAsyncContextManager[Twin]:
    """A client of workspace `name`, with its key."""
    key, secret = site.keys[name]
    return connect(kind, site.base_url, access_key=key, access_key_secret=secret, **options)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def no_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads these; the machine's own values must not leak into a test."""
    for name in (*ENV_NAMES, BEARER_ENV):
        monkeypatch.delenv(name, raising=False)


_days = itertools.count()


def fresh_day() -> datetime:
    """Midnight UTC of a day no other test in this module uses."""
    return datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=next(_days))


_addresses = itertools.count()


def fresh_address() -> str:
    return f"guest{next(_addresses)}-{random.randrange(10**9)}@guests.test"


async def create(gm: Twin, start: datetime, **fields: Any) -> Meeting:
    fields.setdefault("organizer_email", ALICE)
    meeting: Meeting = await gm.create_meeting(
        title=fields.pop("title", "Standup"),
        scheduled_start=start,
        scheduled_end=fields.pop("scheduled_end", start + timedelta(minutes=30)),
        **fields,
    )
    return meeting


def assert_aware_utc(meeting: Meeting) -> None:
    for value in (meeting.scheduled_start, meeting.scheduled_end):
        assert isinstance(value, datetime)
        assert value.utcoffset() == timedelta(0), value


def assert_api_error(
    error: GongMeetingsError, recorder: Recorder, status: int, *fragments: str
) -> None:
    """`error` came from the last response: its status, request id and messages."""
    assert isinstance(error, APIError)
    assert error.status_code == status
    last = recorder.responses[-1]
    assert last.status_code == status
    assert error.request_id is not None and REQUEST_ID.match(error.request_id), error.request_id
    assert error.request_id == last.headers["x-request-id"]
    assert error.errors, "no messages"
    for fragment in fragments:
        assert any(fragment in message for message in error.errors), (fragment, error.errors)
    text = str(error)
    assert error.request_id in text
    for message in error.errors:
        assert message in text, (message, text)


# --- 1. every method ------------------------------------------------------------------------


async def test_create_sends_every_field_and_answers_with_the_wire_meeting(
    kind: str, site: Site
) -> None:
    day = fresh_day()
    plus_two = timezone(timedelta(hours=2))
    start = day.replace(hour=11).astimezone(plus_two)  # 13:00+02:00, 11:00 UTC
    attendees = [
        MeetingAttendee(email_address="bob@example.org", name="Bob", response_status="Accepted"),
        MeetingAttendee(email_address="dan@example.org"),
    ]
    async with as_workspace(kind, site) as gm:
        meeting = await gm.create_meeting(
            title="Quarterly review",
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=1),
            organizer_email=ALICE,
            attendees=attendees,
            description="Numbers, then plans",
            meeting_provider="zoom",
            external_meeting_id="ext-1",
        )
        sent = json.loads(gm.recorder.requests[-1].content)

    assert isinstance(meeting, Meeting)
    assert meeting.id.isdigit()
    assert meeting.title == "Quarterly review"
    assert_aware_utc(meeting)
    assert meeting.scheduled_start == day.replace(hour=11)
    assert meeting.scheduled_end == day.replace(hour=12)
    assert meeting.organizer_email == ALICE
    assert meeting.attendees == attendees
    assert all(isinstance(a, MeetingAttendee) for a in meeting.attendees)
    assert meeting.description == "Numbers, then plans"
    assert meeting.meeting_provider == "Zoom"  # stored under its canonical name
    assert meeting.external_meeting_id == "ext-1"
    assert meeting.meeting_url.endswith(f"/join/{meeting.id}")
    # What went on the wire is the contract's camelCase JSON, with the offset kept.
    assert sent["scheduledStart"] == start.isoformat()
    assert sent["scheduledStart"].endswith("T13:00:00+02:00")
    assert sent["attendees"][0] == {
        "emailAddress": "bob@example.org",
        "name": "Bob",
        "responseStatus": "Accepted",
    }
    assert sent["meetingProvider"] == "zoom"


async def test_update_changes_only_the_fields_given_and_replaces_the_attendees(
    kind: str, site: Site
) -> None:
    start = fresh_day().replace(hour=9)
    async with as_workspace(kind, site) as gm:
        created = await create(
            gm,
            start,
            title="Planning",
            meeting_url="https://meet.example.org/planning",
            description="Agenda",
            meeting_provider="teams",
            attendees=[MeetingAttendee(email_address="a1@example.org", name="A1")],
        )
        newcomer = MeetingAttendee(email_address="a2@example.org", name="A2")
        updated = await gm.update_meeting(
            created.id, title="Planning (moved)", attendees=[newcomer]
        )
        fetched = await gm.get_meeting(created.id)
        moved = await gm.update_meeting(
            created.id,
            scheduled_start=start + timedelta(hours=1),
            scheduled_end=start + timedelta(hours=2),
        )
        emptied = await gm.update_meeting(created.id, attendees=[])

    assert isinstance(updated, Meeting)
    assert updated.id == created.id
    assert updated.title == "Planning (moved)"
    assert updated.attendees == [newcomer]  # replaced, not merged
    for unchanged in (
        "scheduled_start",
        "scheduled_end",
        "organizer_email",
        "meeting_url",
        "description",
        "meeting_provider",
    ):
        assert getattr(updated, unchanged) == getattr(created, unchanged), unchanged
    assert updated.meeting_provider == "Microsoft Teams"
    assert fetched == updated
    assert_aware_utc(fetched)
    assert (moved.scheduled_start, moved.scheduled_end) == (
        start + timedelta(hours=1),
        start + timedelta(hours=2),
    )
    assert moved.title == "Planning (moved)" and moved.attendees == [newcomer]
    assert emptied.attendees == []
    assert emptied.description == "Agenda"


async def test_get_returns_the_meeting_as_created(kind: str, site: Site) -> None:
    async with as_workspace(kind, site) as gm:
        created = await create(gm, fresh_day(), description="Read me back")
        fetched = await gm.get_meeting(created.id)
    assert isinstance(fetched, Meeting)
    assert fetched == created
    assert_aware_utc(fetched)


async def test_list_filters_and_follows_the_cursors(kind: str, site: Site) -> None:
    day = fresh_day()
    guest = fresh_address()
    async with as_workspace(kind, site) as gm:
        first = await create(
            gm, day.replace(hour=9), attendees=[MeetingAttendee(email_address=guest)]
        )
        second = await create(
            gm,
            day.replace(hour=10),
            organizer_email=CAROL,
            attendees=[MeetingAttendee(email_address=guest, name="Guest")],
        )
        third = await create(gm, day.replace(hour=11))
        fourth = await create(gm, day.replace(hour=12))
        gm.recorder.requests.clear()

        whole_day = await gm.list_meetings(
            from_date_time=day, to_date_time=day + timedelta(days=1), page_size=1
        )
        pages = len(gm.recorder.requests)
        by_carol = await gm.list_meetings(
            from_date_time=day, to_date_time=day + timedelta(days=1), organizer_email=CAROL
        )
        by_guest = await gm.list_meetings(attendee_email=guest.upper())
        by_alice = await gm.list_meetings(
            from_date_time=day, to_date_time=day + timedelta(days=1), organizer_email=ALICE
        )
        window = await gm.list_meetings(
            from_date_time=day.replace(hour=10), to_date_time=day.replace(hour=12)
        )

    assert whole_day == [first, second, third, fourth]
    assert pages == 4, "one page per meeting at page_size=1: the cursors were followed"
    assert all(isinstance(m, Meeting) for m in whole_day)
    for meeting in whole_day:
        assert_aware_utc(meeting)
    assert by_carol == [second]
    assert by_guest == [first, second]
    assert by_alice == [first, third, fourth]
    assert window == [second, third]  # from inclusive, to exclusive


async def test_delete_removes_the_meeting(kind: str, site: Site) -> None:
    day = fresh_day()
    async with as_workspace(kind, site) as gm:
        doomed = await create(gm, day.replace(hour=9))
        kept = await create(gm, day.replace(hour=10))
        assert await gm.delete_meeting(doomed.id) is None
        remaining = await gm.list_meetings(from_date_time=day, to_date_time=day + timedelta(days=1))
        with pytest.raises(NotFound):
            await gm.get_meeting(doomed.id)
        with pytest.raises(NotFound):
            await gm.delete_meeting(doomed.id)
    assert remaining == [kept]


async def test_integration_status_reports_what_the_cli_set(kind: str, site: Site) -> None:
    async with as_workspace(kind, site) as gm:
        zoom = await gm.validate_integration_status(user_email=ALICE, meeting_provider="Zoom")
        zoom_id = gm.recorder.responses[-1].headers["x-request-id"]
        alice_any = await gm.validate_integration_status(user_email=ALICE)
        carol = await gm.validate_integration_status(user_email=CAROL, meeting_provider="zoom")
        meet = await gm.validate_integration_status(meeting_provider="google_meet")

    assert isinstance(zoom, IntegrationStatusResponse)
    assert (zoom.is_integrated, zoom.status, zoom.provider, zoom.details) == (
        True,
        "Active",
        "Zoom",
        ZOOM_DETAILS,
    )
    assert zoom.request_id == zoom_id and REQUEST_ID.match(zoom.request_id)
    assert (alice_any.is_integrated, alice_any.status, alice_any.provider) == (
        True,
        "Active",
        "Zoom",
    )
    assert (carol.is_integrated, carol.status) == (False, "Inactive")
    assert (meet.is_integrated, meet.status, meet.provider) == (False, "Inactive", "Google Meet")


# --- 2. every typed error -------------------------------------------------------------------


async def test_end_before_start_is_bad_request(kind: str, site: Site) -> None:
    start = fresh_day().replace(hour=10)
    async with as_workspace(kind, site) as gm:
        with pytest.raises(BadRequest) as raised:
            await create(gm, start, scheduled_end=start - timedelta(hours=1))
    assert_api_error(raised.value, gm.recorder, 400, "scheduledEnd: must be after scheduledStart")
    assert len(gm.recorder.requests) == 1, "a 400 is not retried"


async def test_an_unknown_organizer_is_bad_request(kind: str, site: Site) -> None:
    async with as_workspace(kind, site) as gm:
        with pytest.raises(BadRequest) as raised:
            await create(gm, fresh_day(), organizer_email="nobody@roomy.test")
    assert_api_error(
        raised.value,
        gm.recorder,
        400,
        "organizerEmail: nobody@roomy.test is not a user of this workspace",
        "gong-meetings users add nobody@roomy.test --workspace roomy",
    )


async def test_a_wrong_secret_is_unauthorized(kind: str, site: Site) -> None:
    key, _ = site.keys[ROOMY]
    async with connect(
        kind, site.base_url, access_key=key, access_key_secret="not-the-secret"
    ) as gm:
        with pytest.raises(Unauthorized) as raised:
            await gm.get_meeting("1")
    assert_api_error(raised.value, gm.recorder, 401, "missing or invalid credentials")
    assert len(gm.recorder.requests) == 1


async def test_a_bad_bearer_token_is_unauthorized(kind: str, site: Site) -> None:
    async with connect(kind, site.base_url, bearer_token="gmt_not-a-token-we-issued") as gm:
        with pytest.raises(Unauthorized) as raised:
            await gm.validate_integration_status(user_email=ALICE)
    assert gm.recorder.requests[-1].headers["authorization"] == "Bearer gmt_not-a-token-we-issued"
    assert_api_error(raised.value, gm.recorder, 401, "missing or invalid credentials")


async def test_a_token_without_the_read_scope_is_forbidden(kind: str, site: Site) -> None:
    async with connect(kind, site.base_url, bearer_token=site.create_only_token) as gm:
        # The token may create (so it is sent and accepted) but not read.
        created = await create(gm, fresh_day())
        with pytest.raises(Forbidden) as raised:
            await gm.get_meeting(created.id)
    assert_api_error(raised.value, gm.recorder, 403, "lacks the scope api:meetings:user:read")


async def test_a_missing_meeting_is_not_found(kind: str, site: Site) -> None:
    async with as_workspace(kind, site) as gm:
        for call in (
            gm.get_meeting("1"),
            gm.update_meeting("1", title="Nothing"),
            gm.delete_meeting("1"),
        ):
            with pytest.raises(NotFound) as raised:
                await call
            assert_api_error(
                raised.value, gm.recorder, 404, "no meeting with this id exists in your workspace"
            )


async def test_a_reused_idempotency_key_with_another_body_is_conflict(
    kind: str, site: Site
) -> None:
    key = f"conflict-{kind}-{random.randrange(10**9)}"
    start = fresh_day()
    async with as_workspace(kind, site) as gm:
        await create(gm, start, title="First", idempotency_key=key)
        with pytest.raises(Conflict) as raised:
            await create(gm, start, title="Second", idempotency_key=key)
    assert_api_error(
        raised.value, gm.recorder, 409, "this key was used in the last 24 hours for a different"
    )
    assert gm.recorder.requests[-1].headers["idempotency-key"] == key


async def test_a_stale_if_match_is_precondition_failed(kind: str, site: Site) -> None:
    async with as_workspace(kind, site) as gm:
        meeting = await create(gm, fresh_day(), title="Versioned")
        with pytest.raises(PreconditionFailed) as raised:
            await gm.update_meeting(meeting.id, title="Lost update", if_match='"99"')
        assert gm.recorder.requests[-1].headers["if-match"] == '"99"'
        assert_api_error(raised.value, gm.recorder, 412, "If-Match: the meeting has changed")
        with pytest.raises(PreconditionFailed) as raised:
            await gm.delete_meeting(meeting.id, if_match='"99"')
        assert_api_error(raised.value, gm.recorder, 412, "If-Match")
        assert (await gm.get_meeting(meeting.id)).title == "Versioned"


async def test_a_spent_daily_limit_is_rate_limited_at_once(kind: str, site: Site) -> None:
    to_midnight = (
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        + timedelta(days=1)
        - datetime.now(UTC)
    )
    if to_midnight < timedelta(seconds=15):
        pytest.skip("too close to 00:00 UTC, when the daily count restarts")
    async with as_workspace(kind, site, f"daily-{kind}", retry_after_cap=5) as gm:
        await gm.validate_integration_status(user_email=ALICE)
        started = time.monotonic()
        with pytest.raises(RateLimited) as raised:
            await gm.validate_integration_status(user_email=ALICE)
        took = time.monotonic() - started
    assert_api_error(raised.value, gm.recorder, 429, "1 call per day")
    assert raised.value.retry_after is not None and raised.value.retry_after > 5
    assert raised.value.retry_after == float(gm.recorder.responses[-1].headers["retry-after"])
    # It asked for longer than the cap: raised without a retry, without waiting.
    assert gm.recorder.statuses() == [200, 429]
    assert took < 2.0, took


async def test_a_failing_database_is_server_error_after_its_retry_after(
    kind: str, site: Site
) -> None:
    """The server answers 503 (with Retry-After: 1) while its meetings table is gone."""
    async with as_workspace(kind, site, max_retries=1) as gm:
        meeting = await create(gm, fresh_day())
        database = sqlite3.connect(site.database, isolation_level=None)
        try:
            database.execute("PRAGMA busy_timeout = 10000")
            database.execute("ALTER TABLE meetings RENAME TO meetings_gone")
            try:
                started = time.monotonic()
                with pytest.raises(ServerError) as raised:
                    await gm.get_meeting(meeting.id)
                took = time.monotonic() - started
            finally:
                database.execute("ALTER TABLE meetings_gone RENAME TO meetings")
        finally:
            database.close()
        assert_api_error(raised.value, gm.recorder, 503, "database: unavailable")
        assert gm.recorder.statuses()[1:] == [503, 503], "one retry, then the error"
        # Once the table is back, the same client reads the meeting again.
        assert (await gm.get_meeting(meeting.id)) == meeting
    assert raised.value.retry_after == 1.0
    assert took >= 0.95, f"the retry did not wait Retry-After: {took:.2f}s"


async def test_nothing_listening_is_a_connection_error(kind: str) -> None:
    async with connect(
        kind,
        f"http://127.0.0.1:{free_port()}",
        access_key="k",
        access_key_secret="s",
        max_retries=0,
    ) as gm:
        with pytest.raises(APIConnectionError) as raised:
            await gm.get_meeting("1")
    assert type(raised.value) is APIConnectionError
    assert raised.value.status_code is None and raised.value.request_id is None
    assert raised.value.errors == []
    assert len(gm.recorder.requests) == 1


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port whose connections the kernel completes but no one ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_no_answer_within_the_read_timeout_is_a_timeout_error(kind: str) -> None:
    with silent_listener() as port:
        started = time.monotonic()
        async with connect(
            kind,
            f"http://127.0.0.1:{port}",
            access_key="k",
            access_key_secret="s",
            timeout=httpx.Timeout(5.0, read=0.2),
            max_retries=0,
        ) as gm:
            with pytest.raises(APITimeoutError) as raised:
                await gm.get_meeting("1")
        took = time.monotonic() - started
    assert isinstance(raised.value, APIConnectionError)
    assert raised.value.status_code is None and raised.value.request_id is None
    assert len(gm.recorder.requests) == 1
    assert 0.2 <= took < 3.0, took


# --- 3. a 429 waited out and retried to success ---------------------------------------------


async def test_a_429_is_waited_out_and_retried_to_success(kind: str, site: Site) -> None:
    start = fresh_day()
    guest = fresh_address()
    attendees = [MeetingAttendee(email_address=guest)]
    async with as_workspace(kind, site, "per-second") as gm:
        started = time.monotonic()
        created = [
            await create(
                gm,
                start + timedelta(hours=n),
                organizer_email="organizer@per-second.test",
                attendees=attendees,
            )
            for n in range(3)
        ]
        took = time.monotonic() - started
        listed = await gm.list_meetings(attendee_email=guest)

    assert len(created) == 3 and all(isinstance(m, Meeting) for m in created)
    assert listed == created, "a retried create made a second meeting"
    answered = list(zip(gm.recorder.requests, gm.recorder.responses, strict=True))
    creates = [sent for sent, _ in answered if sent.method == "POST"]
    refused = [a for sent, a in answered if sent.method == "POST" and a.status_code == 429]
    assert refused, f"never refused at 1 call per second: {gm.recorder.statuses()}"
    assert len(creates) == 3 + len(refused)  # three creates, and a retry for each refusal
    waited = sum(int(answer.headers["Retry-After"]) for answer in refused)
    assert waited >= 1
    assert took >= waited - 0.05, (took, waited, gm.recorder.statuses())
    assert took >= 0.95
    # Each create had its own key, and the retry of a refused create carried the same one.
    assert len({r.headers["idempotency-key"] for r in creates}) == 3
    for (sent, answer), (retry, _) in itertools.pairwise(answered):
        if sent.method == "POST" and answer.status_code == 429:
            assert retry.method == "POST"
            assert retry.headers["idempotency-key"] == sent.headers["idempotency-key"]
            assert retry.content == sent.content


# --- 4. paging through 250 meetings ---------------------------------------------------------


@pytest.fixture(scope="module")
def paged(site: Site) -> list[Meeting]:
    """250 meetings in workspace `paging`, created in a shuffled order, three per start time,
    so both the start and the id decide the order; returned in the order a list must give."""
    base = datetime(2032, 3, 1, 8, tzinfo=UTC)
    starts = [base + timedelta(minutes=15 * (n // 3)) for n in range(PAGED)]
    random.Random(7).shuffle(starts)
    key, secret = site.keys["paging"]
    with Client(site.base_url, access_key=key, access_key_secret=secret, timeout=TIMEOUT) as gm:
        for n, start in enumerate(starts):
            gm.create_meeting(
                title=f"Meeting {n}",
                scheduled_start=start,
                scheduled_end=start + timedelta(minutes=30),
                organizer_email=PAGING_ORGANIZER,
            )
    # Read back once, to know the ids; the order is then checked against a sort of our own.
    with Client(site.base_url, access_key=key, access_key_secret=secret, timeout=TIMEOUT) as gm:
        meetings = list(gm.list_meetings())
    assert len(meetings) == PAGED
    return sorted(meetings, key=lambda m: (m.scheduled_start, int(m.id)))


@pytest.mark.parametrize("page_size", [100, 7])
async def test_paging_through_250_meetings(
    kind: str, site: Site, paged: list[Meeting], page_size: int
) -> None:
    async with as_workspace(kind, site, "paging") as gm:
        listed = await gm.list_meetings(page_size=page_size)

    assert len(paged) == PAGED
    assert len(listed) == PAGED
    assert len({m.id for m in listed}) == PAGED
    assert [m.id for m in listed] == [m.id for m in paged]
    assert listed == paged
    keys = [(m.scheduled_start, int(m.id)) for m in listed]
    assert keys == sorted(keys)
    assert sum(1 for m in listed if m.scheduled_start == listed[0].scheduled_start) == 3
    requests = gm.recorder.requests
    assert len(requests) == math.ceil(PAGED / page_size)
    assert {r.url.params["limit"] for r in requests} == {str(page_size)}
    assert "cursor" not in requests[0].url.params
    assert all("cursor" in r.url.params for r in requests[1:])


# --- 5. idempotent creates ------------------------------------------------------------------


async def test_one_idempotency_key_twice_makes_one_meeting(kind: str, site: Site) -> None:
    guest = fresh_address()
    key = f"once-{kind}-{random.randrange(10**9)}"
    start = fresh_day()
    fields: dict[str, Any] = {
        "title": "Once",
        "attendees": [MeetingAttendee(email_address=guest)],
        "idempotency_key": key,
    }
    async with as_workspace(kind, site) as gm:
        first = await create(gm, start, **fields)
        again = await create(gm, start, **fields)
        listed = await gm.list_meetings(attendee_email=guest)
        replayed = gm.recorder.responses[-2].headers.get("idempotent-replayed")

    assert again.id == first.id
    assert again == first
    assert listed == [first]
    assert replayed == "true"
    assert [r.headers["idempotency-key"] for r in gm.recorder.requests[:2]] == [key, key]


async def test_creates_without_a_key_each_get_their_own(kind: str, site: Site) -> None:
    guest = fresh_address()
    start = fresh_day()
    attendees = [MeetingAttendee(email_address=guest)]
    async with as_workspace(kind, site) as gm:
        first = await create(gm, start, attendees=attendees)
        second = await create(gm, start, attendees=attendees)
        listed = await gm.list_meetings(attendee_email=guest)
    keys = {r.headers["idempotency-key"] for r in gm.recorder.requests[:2]}
    assert len(keys) == 2
    assert first.id != second.id
    assert listed == [first, second]


# --- 6. the environment fallbacks -----------------------------------------------------------


async def test_base_url_and_basic_credentials_from_the_environment(
    kind: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret = site.keys[ROOMY]
    monkeypatch.setenv("GONG_MEETINGS_BASE_URL", site.base_url)
    monkeypatch.setenv("GONG_ACCESS_KEY", key)
    monkeypatch.setenv("GONG_ACCESS_KEY_SECRET", secret)
    async with connect(kind, None) as gm:
        meeting = await create(gm, fresh_day())
        assert await gm.get_meeting(meeting.id) == meeting
    assert str(gm.recorder.requests[0].url).startswith(site.base_url + "/v2/")
    assert gm.recorder.requests[0].headers["authorization"].startswith("Basic ")


async def test_a_bearer_token_from_the_environment(
    kind: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_BASE_URL", site.base_url)
    monkeypatch.setenv(BEARER_ENV, site.full_token)
    async with connect(kind, None) as gm:
        status = await gm.validate_integration_status(user_email=ALICE)
    assert status.is_integrated is True
    assert gm.recorder.requests[0].headers["authorization"] == f"Bearer {site.full_token}"


async def test_a_base_url_argument_wins_over_the_environment(
    kind: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret = site.keys[ROOMY]
    monkeypatch.setenv("GONG_MEETINGS_BASE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("GONG_ACCESS_KEY", key)
    monkeypatch.setenv("GONG_ACCESS_KEY_SECRET", secret)
    async with connect(kind, site.base_url, max_retries=0) as gm:
        status = await gm.validate_integration_status(user_email=ALICE)
    assert status.is_integrated is True
    assert str(gm.recorder.requests[0].url).startswith(site.base_url + "/v2/")


async def test_a_bearer_token_argument_wins_over_basic_credentials_in_the_environment(
    kind: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret = site.keys[ROOMY]
    async with as_workspace(kind, site) as gm:
        meeting = await create(gm, fresh_day())
    monkeypatch.setenv("GONG_ACCESS_KEY", key)
    monkeypatch.setenv("GONG_ACCESS_KEY_SECRET", secret)
    # The token given is what is sent, not the environment's Basic key: this token may
    # create but not read, so the read is refused.
    async with connect(kind, site.base_url, bearer_token=site.create_only_token) as gm:
        with pytest.raises(Forbidden):
            await gm.get_meeting(meeting.id)
    assert gm.recorder.requests[0].headers["authorization"] == (f"Bearer {site.create_only_token}")


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_without_a_base_url_the_client_names_the_variable(
    client_class: type[Client] | type[AsyncClient],
) -> None:
    with pytest.raises(ValueError, match="GONG_MEETINGS_BASE_URL"):
        client_class()


# --- 7. closing -----------------------------------------------------------------------------


def test_the_sync_client_closes_its_connections(site: Site) -> None:
    key, secret = site.keys[ROOMY]
    with Client(site.base_url, access_key=key, access_key_secret=secret) as gm:
        assert gm.validate_integration_status(user_email=ALICE).is_integrated
        assert not gm._http.is_closed
    assert gm._http.is_closed
    explicit = Client(site.base_url, access_key=key, access_key_secret=secret)
    explicit.close()
    assert explicit._http.is_closed


async def test_the_async_client_closes_its_connections(site: Site) -> None:
    key, secret = site.keys[ROOMY]
    async with AsyncClient(site.base_url, access_key=key, access_key_secret=secret) as gm:
        assert (await gm.validate_integration_status(user_email=ALICE)).is_integrated
        assert not gm._http.is_closed
    assert gm._http.is_closed
    explicit = AsyncClient(site.base_url, access_key=key, access_key_secret=secret)
    await explicit.aclose()
    assert explicit._http.is_closed


# --- 8. the README's examples, as written ---------------------------------------------------

README_PORT = 8080
README_ORGANIZER = "alice@acme.com"


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python SDK\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def serving_on(port: int, cwd: Path, env: dict[str, str], logs: Path) -> Iterator[Server]:
    """`gong-meetings serve --port PORT`, as the README's reader runs it."""
    logs.mkdir(exist_ok=True)
    out, err = logs / "serve.out", logs / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        server = Server(process, port, out, err)
        try:
            wait_until_ready(server, time.monotonic() + STARTUP_DEADLINE_SECONDS)
            yield server
        finally:
            stop_hard(server)


def test_the_readme_examples_run_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = readme_examples()
    assert len(examples) == 2, "the SDK section should hold the example and its async twin"
    sync_example, async_example = examples
    assert "with Client(" in sync_example
    assert "async with AsyncClient(" in async_example and "async for" in async_example
    if not port_is_free(README_PORT):
        pytest.skip(f"port {README_PORT}, which the README's examples use, is busy")

    url = f"sqlite:///{tmp_path}/readme.db"
    cli(url, "migrate")
    key, secret = workspace(url, "acme", *ROOMY_LIMITS)
    cli(url, "users", "add", README_ORGANIZER, "--workspace", "acme")
    expected = re.compile(
        r"\A(?P<id>[0-9]+) 2026-12-01 15:00:00\+00:00\n"
        r"False Inactive\n"
        r"404 (?P<request_id>[a-z0-9]{19}) "
        r"\['meetingId: no meeting with this id exists in your workspace'\]\n\Z"
    )
    capsys.readouterr()
    with serving_on(README_PORT, tmp_path, server_env(url), tmp_path / "logs") as server:
        printed = []
        for example in examples:
            exec(  # the README's code, run as a reader would, with their key
                compile(example, "README.md", "exec"),
                {"__name__": "__readme__", "KEY": key, "SECRET": secret},
            )
            printed.append(capsys.readouterr().out)
        with Client(server.base_url, access_key=key, access_key_secret=secret) as gm:
            left = list(gm.list_meetings())

    matches = [expected.match(output) for output in printed]
    assert all(matches), printed
    ids = {match["id"] for match in matches if match}
    assert len(ids) == 2, "each example creates its own meeting"
    assert left == [], "each example deletes the meeting it made"
