"""Database trouble is a clear answer, not a crash (issue 3, point 5), on PostgreSQL.

The machine's PostgreSQL is never stopped. The servers here reach it through a small TCP proxy
that a test switches off (nothing listens, and every forwarded connection is cut, as when the
database goes down) and on again on the same port. While it is off, requests must get 503 in
the contract's envelope with a `Retry-After`, the process must stay up, and once it is back the
service must recover by itself. A database that stops answering (the proxy stalls: connections
stay open but nothing comes back) must be a 503 as well, not a hang. A statement timeout must
bound every query, a row lock held elsewhere included, and an exhausted pool must be a 503 too,
never a 500.
"""

import asyncio
import re
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

import gong_meetings.storage.meetings as meeting_store
from gong_meetings.config import PoolOptions, Settings
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from tests.api.test_metrics import DATABASE_ERRORS, REQUESTS, parse_samples, value
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    assert_request_id,
    connect,
    make_tenant,
    meeting_body,
)
from tests.postgres import postgres_url, scratch_database
from tests.system.live import SCRIPT, free_port, running_server, server_env

T = TypeVar("T")

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

INTEGRATION_STATUS = "/v2/meetings/integration-status"
ORGANIZER = "organizer@acme.test"
# Every HTTP call gives up after this long, so a hang fails the test instead of blocking it.
REQUEST_TIMEOUT_SECONDS = 10.0
# A request made while the database is down must be answered at least this fast.
OUTAGE_ANSWER_SECONDS = 5.0
RECOVERY_DEADLINE_SECONDS = 15.0
# A stalled database must be answered with a 503 this fast: the connect timeout (2 s at least
# in libpq, which the CLI's psycopg uses), the pool timeout and the statement timeout here are
# all 2 s or less.
STALL_ANSWER_SECONDS = 5.0
CLI_TIMEOUT_SECONDS = 20.0
STATEMENT_TIMEOUT_MS = 200
SLOW_STATEMENT_SECONDS = 2


# --- A proxy that can be switched off and on -------------------------------------------------


class _Pair:
    """One forwarded connection: the client's socket and ours to PostgreSQL."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.sockets = (client, upstream)
        self._lock = threading.Lock()
        self._running = 2

    def cut(self) -> None:
        for sock in self.sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def pump_finished(self) -> bool:
        """True for the second pump to finish: that one closes both sockets."""
        with self._lock:
            self._running -= 1
            return self._running == 0

    def close(self) -> None:
        for sock in self.sockets:
            with suppress(OSError):
                sock.close()


class SwitchableProxy:
    """Forwards 127.0.0.1:`port` to `target`; `off()` is a database that went away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._pumps: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stalled = threading.Event()
        self.accepted = 0

    @property
    def is_on(self) -> bool:
        return self._listener is not None

    def on(self) -> None:
        assert self._listener is None, "the proxy is already on"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Connections the proxy cut sit in TIME_WAIT on this port; SO_REUSEADDR allows the
        # bind. Retry briefly in case another process grabbed the port meanwhile (unlikely).
        deadline = time.monotonic() + 5
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.05)
        listener.listen(64)
        listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._stalled.clear()
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener, self._stopping), daemon=True
        )
        self._acceptor.start()

    def off(self) -> None:
        """Stop listening (new connections are refused) and cut every open connection."""
        if self._listener is None:
            return
        self._stopping.set()
        assert self._acceptor is not None
        self._acceptor.join(timeout=5)
        assert not self._acceptor.is_alive(), "the proxy's accept loop did not stop"
        self._listener.close()
        self._listener = None
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
            pumps, self._pumps = self._pumps, []
        for pair in pairs:
            pair.cut()
        for pump in pumps:
            pump.join(timeout=5)
            assert not pump.is_alive(), "a proxy pump did not stop"
        for pair in pairs:
            pair.close()

    def stall(self) -> None:
        """A database that stops answering (a hung host, a network partition): connections
        stay open and new ones are accepted, but nothing is forwarded any more. Only `off()`
        ends it, since the streams have lost bytes."""
        self._stalled.set()

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept(self, listener: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if stopping.is_set():
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            pumps = [
                threading.Thread(target=self._pump, args=(pair, a, b), daemon=True)
                for a, b in ((client, upstream), (upstream, client))
            ]
            with self._lock:
                self._pairs.add(pair)
                self._pumps.extend(pumps)
                self.accepted += 1
            for pump in pumps:
                pump.start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._stalled.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        pair.cut()
        if pair.pump_finished():
            with self._lock:
                forgotten = pair in self._pairs
                self._pairs.discard(pair)
            if forgotten:  # otherwise off() closes it, after joining the pumps
                pair.close()


# --- Fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def direct_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, reached directly; dropped afterwards."""
    with scratch_database(postgres_url()) as url:
        yield url


@pytest.fixture
def proxy(direct_url: str) -> Iterator[SwitchableProxy]:
    """A proxy to the test PostgreSQL server, switched on; always switched off at the end."""
    parsed = make_url(direct_url)
    forwarder = SwitchableProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    forwarder.on()
    try:
        yield forwarder
    finally:
        forwarder.off()


def through(proxy: SwitchableProxy, url: str) -> str:
    """`url`, but reaching the database through the proxy."""
    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


def migrated_tenant(url: str) -> Tenant:
    """Migrate the database at `url` and make workspace `acme` with one user and one key."""
    database = Database(url)
    try:
        upgrade(database.engine)
        return make_tenant(AccountService(database), "acme")
    finally:
        database.close()


def assert_unavailable(response: httpx.Response) -> None:
    """503 in the contract's envelope, naming the database, with Retry-After in seconds."""
    errors = assert_error(response, 503, "database")
    retry_after = response.headers.get("retry-after", "")
    assert re.fullmatch(r"[0-9]+", retry_after), response.headers
    assert 1 <= int(retry_after) <= 120, retry_after
    body = response.text
    assert "Traceback" not in body, body
    assert not any(driver in body.lower() for driver in ("psycopg", "asyncpg")), body
    assert not any("SELECT" in e or "127.0.0.1" in e for e in errors), errors


def database_metrics(http: httpx.Client) -> tuple[float, float]:
    """From the live server's /metrics: database errors, and 503s answered to any request."""
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    samples = parse_samples(response.text)
    unavailable = sum(
        number
        for (name, labels), number in samples.items()
        if name == REQUESTS and ("status", "503") in labels
    )
    return value(samples, DATABASE_ERRORS), unavailable


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


async def within(request: Awaitable[T]) -> T:
    """The result, or a failure after REQUEST_TIMEOUT_SECONDS: in-process, httpx's own timeouts
    do not apply, so a request that hangs would block the test for good."""
    try:
        return await asyncio.wait_for(request, REQUEST_TIMEOUT_SECONDS)
    except TimeoutError:
        pytest.fail(f"no answer within {REQUEST_TIMEOUT_SECONDS}s: the request hangs")


async def atimed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await within(request)
    return response, time.monotonic() - started


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def new_key(env: dict[str, str], cwd: Path) -> tuple[str, str]:
    out = cli(env, cwd, "keys", "create", "--workspace", "acme", "--json")
    found = re.search(r'"accessKey": "([^"]+)", "accessKeySecret": "([^"]+)"', out)
    assert found, out
    return found[1], found[2]


def meeting_count(url: str) -> int:
    with connect(url) as connection:
        return int(connection.execute(text("SELECT count(*) FROM meetings")).scalar_one())


@contextmanager
def row_locked(url: str, meeting_id: str) -> Iterator[None]:
    """Another transaction holds the meeting's row lock until the block ends."""
    with connect(url) as connection, connection.begin():
        locked = connection.execute(
            text("SELECT id FROM meetings WHERE id = :id FOR UPDATE"), {"id": int(meeting_id)}
        ).first()
        assert locked is not None
        yield


@asynccontextmanager
async def client_for(url: str, **pool: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=url, public_base_url="http://meetings.test", pool=PoolOptions(**pool)
    )
    async with app_client(settings) as http:
        http.timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
        yield http


# --- A real server process through an outage -------------------------------------------------


def test_a_server_answers_503_while_the_database_is_down_and_recovers_by_itself(
    direct_url: str, proxy: SwitchableProxy, tmp_path: Path
) -> None:
    env = server_env(through(proxy, direct_url))
    env.update(
        GONG_MEETINGS_DB_CONNECT_TIMEOUT="1",
        GONG_MEETINGS_DB_POOL_TIMEOUT="2",
        # Long enough that the first key stays cached through the whole outage.
        GONG_MEETINGS_AUTH_CACHE_SECONDS="30",
    )
    cli(env, tmp_path, "migrate")
    # Limits out of the way: this test calls faster than Gong's 3 a second.
    cli(env, tmp_path, "workspaces", "create", "acme", "--rate-limit-per-second=1000000")
    cli(env, tmp_path, "users", "add", ORGANIZER, "--workspace", "acme")
    cached_key, uncached_key = new_key(env, tmp_path), new_key(env, tmp_path)

    with (
        running_server(tmp_path, env, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http,
    ):
        created = http.post(
            "/v2/meetings", json=meeting_body(ORGANIZER, description="kept"), auth=cached_key
        )
        assert created.status_code == 201, created.text
        meeting = created.json()["meeting"]
        meeting_path = f"/v2/meetings/{meeting['id']}"
        status_body = {"userEmail": ORGANIZER}
        before = http.post(INTEGRATION_STATUS, json=status_body, auth=cached_key)
        assert before.status_code == 200, before.text
        assert proxy.open_connections() > 0  # the server's pool really goes through the proxy
        errors_before, unavailable_before = database_metrics(http)
        assert unavailable_before == 0

        proxy.off()
        assert proxy.open_connections() == 0
        calls: dict[str, Callable[[], httpx.Response]] = {
            "create": lambda: http.post(
                "/v2/meetings", json=meeting_body(ORGANIZER, title="Lost"), auth=cached_key
            ),
            "update": lambda: http.put(meeting_path, json={"title": "Lost"}, auth=cached_key),
            "delete": lambda: http.delete(meeting_path, auth=cached_key),
            "integration status": lambda: http.post(
                INTEGRATION_STATUS, json=status_body, auth=cached_key
            ),
            # Not cached: checking the key needs the database, which is a 503, never a 401.
            "uncached key": lambda: http.put(meeting_path, json={}, auth=uncached_key),
            "uncached key, create": lambda: http.post(
                "/v2/meetings", json=meeting_body(ORGANIZER), auth=uncached_key
            ),
        }
        # Twice round: the first calls find the pool's dead connections, the next find none.
        for round_ in (1, 2):
            for name, call in calls.items():
                response, took = timed(call)
                assert response.status_code == 503, (round_, name, response.text)
                assert_unavailable(response)
                assert took < OUTAGE_ANSWER_SECONDS, (round_, name, took)
        # Requests that need no database still work, and the process is up.
        assert http.get("/openapi.json").status_code == 200
        assert server.process.poll() is None, server.stderr()
        # Liveness stays up; readiness says what is missing.
        assert http.get("/healthz").json() == {"status": "ok"}
        not_ready = http.get("/readyz")
        assert not_ready.status_code == 503, not_ready.text
        assert not_ready.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
        # /metrics needs no database, and counts each failure that made a request a 503: the
        # twelve calls and the readiness check.
        errors_during, unavailable_during = database_metrics(http)
        assert unavailable_during - unavailable_before == 2 * len(calls) + 1
        assert errors_during - errors_before == 2 * len(calls) + 1

        proxy.on()
        deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
        statuses = []
        while True:
            response = http.put(meeting_path, json={}, auth=cached_key)
            statuses.append(response.status_code)
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            assert response.status_code == 503, response.text
            time.sleep(0.2)
        assert response.status_code == 200, (statuses, response.text)
        assert http.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}
        # The meeting made before the outage is intact, and nothing half-made got stored.
        assert response.json()["meeting"] == meeting
        assert meeting_count(direct_url) == 1

        again = http.post(
            "/v2/meetings", json=meeting_body(ORGANIZER, title="After"), auth=cached_key
        )
        assert again.status_code == 201, again.text
        assert_request_id(again)
        updated = http.put(meeting_path, json={"title": "Renamed"}, auth=uncached_key)
        assert updated.status_code == 200, updated.text
        assert updated.json()["meeting"] == {**meeting, "title": "Renamed"}
        after = http.post(INTEGRATION_STATUS, json=status_body, auth=uncached_key)
        assert after.status_code == 200, after.text
        assert after.json()["status"] == before.json()["status"]

        # Recovered without a restart: the same process answered throughout, and it never
        # started a second time or logged a crash.
        assert server.process.poll() is None, server.stderr()
        stderr = server.stderr()
        assert stderr.count("Application startup complete") == 1, stderr
        assert "Traceback" not in stderr, stderr
        assert " 500 " not in stderr, stderr
    assert meeting_count(direct_url) == 2


# --- In-process: refused connections and an exhausted pool -----------------------------------


async def test_refused_connections_are_503_in_process_and_the_app_recovers(
    direct_url: str, proxy: SwitchableProxy
) -> None:
    tenant = migrated_tenant(direct_url)
    auth = tenant.auth
    async with client_for(
        through(proxy, direct_url), connect_timeout_seconds=1, timeout_seconds=2
    ) as http:
        created = await within(
            http.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=auth)
        )
        assert created.status_code == 201, created.text
        path = f"/v2/meetings/{created.json()['meetingId']}"

        proxy.off()
        for _ in range(2):
            response, took = await atimed(http.put(path, json={"title": "x"}, auth=auth))
            assert_unavailable(response)
            assert took < OUTAGE_ANSWER_SECONDS, took
        # Several at once, as a busy server would see them: all 503, none 500.
        answers = await within(
            asyncio.gather(
                *(http.put(path, json={}, auth=auth) for _ in range(5)),
                http.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=auth),
                http.post(INTEGRATION_STATUS, json={"meetingProvider": "Zoom"}, auth=auth),
            )
        )
        for response in answers:
            assert_unavailable(response)

        proxy.on()
        recovered = await within(http.put(path, json={"title": "Back"}, auth=auth))
        assert recovered.status_code == 200, recovered.text
        assert recovered.json()["meeting"]["title"] == "Back"


async def test_an_exhausted_pool_is_a_503_after_the_pool_timeout(direct_url: str) -> None:
    tenant = migrated_tenant(direct_url)
    auth, status_body = tenant.auth, {"userEmail": tenant.organizer}
    # One connection, no overflow: a request stuck on a row lock holds it; the next
    # transaction waits for the pool no longer than the pool timeout.
    async with client_for(
        direct_url, size=1, max_overflow=0, timeout_seconds=0.3, statement_timeout_ms=3_000
    ) as http:
        created = await within(
            http.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=auth)
        )
        assert created.status_code == 201, created.text
        meeting_id = created.json()["meetingId"]
        path = f"/v2/meetings/{meeting_id}"

        with row_locked(direct_url, meeting_id):
            stuck = asyncio.create_task(within(http.put(path, json={"title": "Waited"}, auth=auth)))
            await asyncio.sleep(0.3)  # let it take the pool's only connection
            assert not stuck.done()
            another = meeting_body(tenant.organizer)
            waiting, took = await atimed(http.post("/v2/meetings", json=another, auth=auth))
            assert_unavailable(waiting)
            assert took < 2.0, took
            # A lone read has a pool of its own (autocommit): it still answers.
            lone = await within(http.post(INTEGRATION_STATUS, json=status_body, auth=auth))
            assert lone.status_code == 200, lone.text
        finished = await stuck
        assert finished.status_code == 200, finished.text
        assert finished.json()["meeting"]["title"] == "Waited"
        fine = await within(http.post("/v2/meetings", json=another, auth=auth))
        assert fine.status_code == 201, fine.text


async def test_a_database_that_stops_answering_is_a_503_not_a_hang(
    direct_url: str, proxy: SwitchableProxy
) -> None:
    tenant = migrated_tenant(direct_url)
    auth = tenant.auth
    async with client_for(
        through(proxy, direct_url),
        connect_timeout_seconds=1,
        timeout_seconds=2,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
    ) as http:
        created = await within(
            http.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=auth)
        )
        assert created.status_code == 201, created.text
        path = f"/v2/meetings/{created.json()['meetingId']}"

        proxy.stall()
        started = time.monotonic()
        update = asyncio.create_task(http.put(path, json={"title": "Stalled"}, auth=auth))
        answered, _ = await asyncio.wait({update}, timeout=STALL_ANSWER_SECONDS)
        waited = time.monotonic() - started
        # Cut the stalled connections, so that a request still waiting fails now and the test
        # ends either way.
        proxy.off()
        response = await within(update)
        assert answered, (
            f"PUT had no answer after {waited:.1f}s while the database did not answer;"
            f" it answered {response.status_code} only once the connection was cut"
        )
        assert_unavailable(response)

        proxy.on()
        recovered = await within(http.put(path, json={"title": "Back"}, auth=auth))
        assert recovered.status_code == 200, recovered.text


# --- The statement timeout ------------------------------------------------------------------


async def test_a_slow_statement_is_cut_off_by_the_statement_timeout(
    direct_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = migrated_tenant(direct_url)
    auth = tenant.auth
    async with client_for(direct_url, statement_timeout_ms=STATEMENT_TIMEOUT_MS) as http:
        created = await within(
            http.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=auth)
        )
        assert created.status_code == 201, created.text
        meeting = created.json()["meeting"]
        path = f"/v2/meetings/{meeting['id']}"
        original = meeting_store.get_meeting
        slept: list[bool] = []

        def slow_get_meeting(connection: Connection, *args: Any, **kwargs: Any) -> Any:
            slept.append(True)
            connection.execute(text(f"SELECT pg_sleep({SLOW_STATEMENT_SECONDS})"))
            return original(connection, *args, **kwargs)

        monkeypatch.setattr(meeting_store, "get_meeting", slow_get_meeting)
        response, took = await atimed(http.put(path, json={"title": "Slow"}, auth=auth))
        assert slept, "the slow statement never ran; the test no longer injects it"
        assert_unavailable(response)
        assert took < SLOW_STATEMENT_SECONDS / 2, took

        monkeypatch.setattr(meeting_store, "get_meeting", original)
        fine = await within(http.put(path, json={"title": "Quick"}, auth=auth))
        assert fine.status_code == 200, fine.text
        assert fine.json()["meeting"] == {**meeting, "title": "Quick"}


async def test_a_row_lock_held_elsewhere_is_a_503_within_the_timeout_not_a_hang(
    direct_url: str,
) -> None:
    tenant = migrated_tenant(direct_url)
    auth = tenant.auth
    async with client_for(direct_url, statement_timeout_ms=STATEMENT_TIMEOUT_MS) as http:
        created = await within(
            http.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=auth)
        )
        assert created.status_code == 201, created.text
        meeting = created.json()["meeting"]
        path = f"/v2/meetings/{meeting['id']}"

        with row_locked(direct_url, meeting["id"]):
            for blocked in (
                http.put(path, json={"title": "Blocked"}, auth=auth),
                http.delete(path, auth=auth),
            ):
                response, took = await atimed(blocked)
                assert_unavailable(response)
                assert took < 1.5, took
            # Work that needs no lock on that row still goes through meanwhile.
            other = await within(
                http.post(INTEGRATION_STATUS, json={"userEmail": tenant.organizer}, auth=auth)
            )
            assert other.status_code == 200, other.text

        released = await within(http.put(path, json={"title": "Unblocked"}, auth=auth))
        assert released.status_code == 200, released.text
        assert released.json()["meeting"] == {**meeting, "title": "Unblocked"}
        with connect(direct_url) as connection:
            stored = connection.execute(
                text("SELECT title FROM meetings WHERE id = :id"), {"id": int(meeting["id"])}
            ).scalar_one()
        assert stored == "Unblocked"
