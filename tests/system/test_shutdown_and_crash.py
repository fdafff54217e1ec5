"""Issue 8, points 4 and 5: graceful shutdown on SIGTERM, and no acknowledged write lost to a
SIGKILL, on SQLite (a file) and on PostgreSQL (a scratch database).

Each test prepares its database in-process (the schema, a workspace with its rate limits out
of the way, an organizer, a key), starts real `gong-meetings serve` processes and talks to them
over real sockets: httpx clients in threads for the write loads, and a raw socket for a request
whose body trickles in. Every wait has a deadline and every process is stopped, even when a
test fails. What is stored is read from the database itself once the server has stopped.
"""

import json
import os
import random
import re
import select
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from base64 import b64encode
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from tests.helpers import REQUEST_ID, assert_error, connect, make_tenant, meeting_body
from tests.postgres import postgres_url, scratch_database
from tests.system.live import (
    SCRIPT,
    STARTUP_DEADLINE_SECONDS,
    Server,
    server_env,
    start_server,
    stop_hard,
    wait_until_ready,
)

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

WORKSPACE = "acme"
ORGANIZER = "organizer@acme.test"
MEETING_ID = re.compile(r"[1-9][0-9]{0,18}")
CLIENT_TIMEOUT = httpx.Timeout(15.0)
# What the server does with SIGTERM when GONG_MEETINGS_SHUTDOWN_GRACE_SECONDS is not set.
DEFAULT_GRACE_SECONDS = 10.0
# How long a load may take to reach the writes a test waits for before it signals the server.
LOAD_DEADLINE_SECONDS = 20.0
JOIN_DEADLINE_SECONDS = 20.0
PORT_ATTEMPTS = 3


# --- a deployment: a prepared database, and servers on it --------------------------------------


@dataclass(frozen=True)
class Deployment:
    """A migrated database with workspace `acme`, its organizer and one key."""

    backend: str
    database_url: str
    env: dict[str, str]
    auth: tuple[str, str]
    cwd: Path
    logs: Path


def _prepare(backend: str, database_url: str, tmp_path: Path) -> Deployment:
    """The schema, workspace `acme` (limits out of the way), its organizer and a key, made
    in-process: the console script's own tests cover those commands."""
    database = Database(database_url)
    try:
        upgrade(database.engine)
        tenant = make_tenant(AccountService(database), WORKSPACE)
    finally:
        database.close()
    assert tenant.organizer == ORGANIZER
    cwd = tmp_path / "work"
    cwd.mkdir()
    return Deployment(
        backend, database_url, server_env(database_url), tenant.auth, cwd, tmp_path / "logs"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    if request.param == "sqlite":
        yield _prepare("sqlite", f"sqlite:///{tmp_path}/gong-meetings.db", tmp_path)
        return
    with scratch_database(postgres_url()) as url:
        yield _prepare("postgresql", url, tmp_path)


def _listening(server: Server) -> bool:
    """Wait until the server's own log says it listens on its port: True. False if it could
    not bind it, taken meanwhile by another process (test runs share this machine); then an
    answer on that port would come from someone else's server, so wait_until_ready alone is
    not enough."""
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    banner = f"Uvicorn running on {server.base_url} "
    while time.monotonic() < deadline:
        if banner in server.stderr():
            return True
        code = server.process.poll()
        if code is not None:
            if "address already in use" in server.stderr().lower():
                return False
            pytest.fail(f"server exited with {code} before listening:\n{server.stderr()}")
        time.sleep(0.05)
    pytest.fail(f"server not listening within {STARTUP_DEADLINE_SECONDS}s:\n{server.stderr()}")


@contextmanager
def serving(deployment: Deployment, **settings: str) -> Iterator[Server]:
    """`gong-meetings serve` on the deployment, with extra GONG_MEETINGS_ settings, on a port
    of its own; stopped (SIGTERM, then SIGKILL to its session) on the way out if it is still
    running."""
    env = {**deployment.env, **settings}
    for _ in range(PORT_ATTEMPTS):
        with ExitStack() as stack:
            server, files = start_server(deployment.cwd, env, deployment.logs)
            for file in files:
                stack.callback(file.close)
            stack.callback(stop_hard, server)
            if not _listening(server):
                continue
            wait_until_ready(server, time.monotonic() + STARTUP_DEADLINE_SECONDS)
            yield server
            return
    pytest.fail(f"no free port in {PORT_ATTEMPTS} attempts")


def wait_for_exit(server: Server, seconds: float) -> int:
    try:
        return server.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running {seconds:g}s after SIGTERM:\n{server.stderr()}")


def assert_shut_down_cleanly(server: Server, code: int) -> None:
    """What issue 8 asks of a SIGTERM: the app's shutdown (which closes the database pools)
    ran, and the process exits 0."""
    err = server.stderr()
    assert "Application shutdown complete" in err, err
    assert code == 0, (
        f"the server exited with {code} after SIGTERM, not 0"
        f"{' (killed by the re-raised SIGTERM)' if code == -signal.SIGTERM else ''};"
        f" its log:\n{err[-2000:]}"
    )


def client(server: Server, deployment: Deployment) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, auth=deployment.auth, timeout=CLIENT_TIMEOUT)


def listed_meetings(http: httpx.Client) -> tuple[int, list[dict[str, Any]]]:
    """Every page of the unfiltered list: its totalRecords and every meeting on it."""
    first = http.get("/v2/meetings", params={"limit": 100})
    assert first.status_code == 200, first.text
    total = first.json()["records"]["totalRecords"]
    found = list(first.json()["meetings"])
    cursor = first.json()["records"].get("cursor")
    while cursor is not None:
        page = http.get("/v2/meetings", params={"cursor": cursor})
        assert page.status_code == 200, page.text
        found += page.json()["meetings"]
        cursor = page.json()["records"].get("cursor")
    return total, found


def stored_titles(database_url: str) -> dict[str, str]:
    """Every stored meeting's id and title, read from the database itself."""
    with connect(database_url) as connection:
        rows = connection.execute(sa.text("SELECT id, title FROM meetings")).all()
    return {str(meeting_id): title for meeting_id, title in rows}


# --- the database's own integrity checks -------------------------------------------------------


def assert_database_intact(deployment: Deployment) -> None:
    if deployment.backend == "sqlite":
        path = sa.engine.make_url(deployment.database_url).database
        assert path and Path(path).is_file(), path
        with closing(sqlite3.connect(path)) as database:
            assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert database.execute("PRAGMA foreign_key_check").fetchall() == []
        return
    with connect(deployment.database_url) as connection:
        connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS amcheck"))
        tables = (
            connection.execute(
                sa.text(
                    "SELECT c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        assert "meetings" in tables, tables
        indexes = connection.execute(
            sa.text(
                "SELECT ct.relname, ci.relname FROM pg_index i"
                " JOIN pg_class ci ON ci.oid = i.indexrelid"
                " JOIN pg_class ct ON ct.oid = i.indrelid"
                " JOIN pg_namespace n ON n.oid = ct.relnamespace"
                " JOIN pg_am am ON am.oid = ci.relam"
                " WHERE n.nspname = 'public' AND ct.relkind = 'r' AND am.amname = 'btree'"
                " ORDER BY 1, 2"
            )
        ).all()
        assert "meetings" in {table for table, _ in indexes}, indexes
        for _, index in indexes:
            # Raises on any inconsistency; heapallindexed also checks every row is indexed.
            connection.execute(
                sa.text("SELECT bt_index_check(CAST(:index AS regclass), true)"),
                {"index": f'public."{index}"'},
            )
        for table in tables:
            corruption = connection.execute(
                sa.text("SELECT * FROM verify_heapam(CAST(:table AS regclass))"),
                {"table": f'public."{table}"'},
            ).all()
            assert corruption == [], (table, corruption)
        connection.commit()


# --- a create whose body trickles in over a raw socket -----------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def parse_response(data: bytes) -> RawResponse:
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, data[:500]
    status_line, *lines = head.decode("latin-1").split("\r\n")
    match = re.fullmatch(r"HTTP/1\.1 (\d{3}) .*", status_line)
    assert match, status_line
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    assert len(body) == length, (length, body[:500])
    return RawResponse(int(match[1]), headers, body)


class TrickledCreate:
    """POST /v2/meetings with `Expect: 100-continue`. The constructor returns once the server
    answers `100 Continue`, that is once the app is reading the body: the request is in
    flight. `start()` then sends the body in `pieces`, one every `seconds / pieces`, in a
    thread, stopping early if the server answers or closes; then it reads the answer."""

    def __init__(self, port: int, auth: tuple[str, str], title: str, seconds: float, pieces: int):
        body = json.dumps(meeting_body(ORGANIZER, title=title)).encode()
        self.pieces = [
            body[i * len(body) // pieces : (i + 1) * len(body) // pieces] for i in range(pieces)
        ]
        self.interval = seconds / pieces
        self.sent = 0
        self.data = b""
        self.error: OSError | None = None
        self.answered_at: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        credentials = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self._socket.sendall(
            (
                "POST /v2/meetings HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\n"
                f"Authorization: Basic {credentials}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Expect: 100-continue\r\n"
                "\r\n"
            ).encode()
        )
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = self._socket.recv(4096)
            assert chunk, interim
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the trickling client did not finish"

    @property
    def finished_sending(self) -> bool:
        return self.sent == len(self.pieces)

    def _run(self) -> None:
        with closing(self._socket) as sock:
            try:
                for piece in self.pieces:
                    readable, _, _ = select.select([sock], [], [], self.interval)
                    if readable:  # an answer (or a close) before the body is complete
                        break
                    sock.sendall(piece)
                    self.sent += 1
                sock.settimeout(15)
                while chunk := sock.recv(65536):
                    self.data += chunk
            except OSError as error:
                self.error = error
            finally:
                self.answered_at = time.monotonic()

    def response(self) -> RawResponse:
        assert self.error is None, repr(self.error)
        return parse_response(self.data)


def wait_until_refused(server: Server, deadline_seconds: float) -> float:
    """Poll new connections until one is refused; when that happened (monotonic)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.base_url}/healthz", timeout=1.0)
        except httpx.ConnectError:
            return time.monotonic()
        except httpx.TransportError:
            pass  # accepted just before the listener closed, then shut: not yet a refusal
        time.sleep(0.02)
    pytest.fail(f"new connections were still accepted {deadline_seconds:g}s after SIGTERM")


# --- point 4: SIGTERM --------------------------------------------------------------------------


@dataclass
class CreateOutcome:
    title: str
    after_sigterm: bool
    response: httpx.Response | None = None
    error: BaseException | None = None


def create_stream(
    server: Server,
    deployment: Deployment,
    worker: int,
    sigterm_sent: threading.Event,
    outcomes: list[CreateOutcome],
) -> None:
    """Creates, one after another, until one fails to reach the server (or the deadline)."""
    deadline = time.monotonic() + LOAD_DEADLINE_SECONDS + DEFAULT_GRACE_SECONDS
    with client(server, deployment) as http:
        for n in range(100_000):
            if time.monotonic() > deadline:
                return
            outcome = CreateOutcome(f"stream {worker}-{n}", sigterm_sent.is_set())
            try:
                outcome.response = http.post(
                    "/v2/meetings", json=meeting_body(ORGANIZER, title=outcome.title)
                )
            except Exception as error:  # judged by the test: only TransportError is clean
                outcome.error = error
            outcome.after_sigterm = sigterm_sent.is_set()
            outcomes.append(outcome)
            if outcome.error is not None:
                return


def created_id(outcome: CreateOutcome) -> str | None:
    """The meeting id of a clean 201; None for a clean other answer; fails on anything else."""
    if outcome.error is not None:
        assert isinstance(outcome.error, httpx.TransportError), repr(outcome.error)
        assert outcome.after_sigterm, f"{outcome.error!r} before SIGTERM"
        return None
    response = outcome.response
    assert response is not None
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code != 201:
        assert_error(response, response.status_code)
        return None
    assert REQUEST_ID.match(response.headers.get("x-request-id", "")), response.headers
    body = response.json()
    assert MEETING_ID.fullmatch(body["meetingId"]), body
    assert body["meeting"]["id"] == body["meetingId"]
    assert body["meeting"]["title"] == outcome.title, body
    meeting_id: str = body["meetingId"]
    return meeting_id


def test_sigterm_during_a_stream_of_creates_keeps_every_201(deployment: Deployment) -> None:
    outcomes: list[CreateOutcome] = []
    sigterm_sent = threading.Event()
    with serving(deployment) as server:
        workers = [
            threading.Thread(
                target=create_stream,
                args=(server, deployment, worker, sigterm_sent, outcomes),
                daemon=True,
            )
            for worker in range(8)
        ]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
        while sum(o.response is not None and o.response.status_code == 201 for o in outcomes) < 40:
            assert time.monotonic() < deadline, [o.error or o.response for o in outcomes[:5]]
            assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
            time.sleep(0.01)
        sigterm_sent.set()
        server.process.send_signal(signal.SIGTERM)
        code = wait_for_exit(server, DEFAULT_GRACE_SECONDS + 5)
        for worker in workers:
            worker.join(JOIN_DEADLINE_SECONDS)
            assert not worker.is_alive(), "a client thread did not finish"

    err = server.stderr()
    assert "Traceback" not in err, err
    # Every client ended on a connection error: once stopped, the server takes no new work.
    assert sum(o.error is not None for o in outcomes) == len(workers), outcomes
    acknowledged: dict[str, str] = {}
    for outcome in outcomes:
        meeting_id = created_id(outcome)
        if meeting_id is not None:
            assert meeting_id not in acknowledged, meeting_id
            acknowledged[meeting_id] = outcome.title
    assert len(acknowledged) >= 40

    # Every 201 is stored; and as the requests in flight were finished, not cut off, nothing
    # was stored whose client did not hear of it.
    assert stored_titles(deployment.database_url) == acknowledged

    assert_shut_down_cleanly(server, code)


def test_a_request_in_flight_at_sigterm_is_finished_and_new_connections_are_refused(
    deployment: Deployment,
) -> None:
    with serving(deployment, GONG_MEETINGS_SHUTDOWN_GRACE_SECONDS="5") as server:
        slow = TrickledCreate(server.port, deployment.auth, "Trickled in", seconds=2.0, pieces=10)
        slow.start()
        server.process.send_signal(signal.SIGTERM)
        refused_at = wait_until_refused(server, deadline_seconds=1.5)
        # Refused while the trickling request is still being received, and the server runs.
        assert slow.answered_at is None and not slow.finished_sending
        assert server.process.poll() is None
        code = wait_for_exit(server, 5 + 5)
        slow.join(JOIN_DEADLINE_SECONDS)

    assert slow.answered_at is not None and slow.answered_at > refused_at
    assert slow.finished_sending
    response = slow.response()
    assert response.status == 201, response
    assert REQUEST_ID.match(response.headers.get("x-request-id", "")), response.headers
    meeting = json.loads(response.body)["meeting"]
    assert meeting["title"] == "Trickled in"
    err = server.stderr()
    assert "Traceback" not in err, err
    assert "timeout graceful shutdown exceeded" not in err, err

    # It is stored, as answered.
    assert stored_titles(deployment.database_url) == {meeting["id"]: "Trickled in"}

    assert_shut_down_cleanly(server, code)


def test_a_request_longer_than_the_grace_period_does_not_hold_the_shutdown(
    deployment: Deployment,
) -> None:
    trickle_seconds = 6.0
    settings = {
        "GONG_MEETINGS_SHUTDOWN_GRACE_SECONDS": "1",
        # So that it is the grace period that ends the request, not the body's own cut-off.
        "GONG_MEETINGS_BODY_TIMEOUT_SECONDS": "30",
    }
    with serving(deployment, **settings) as server:
        slow = TrickledCreate(
            server.port, deployment.auth, "Cut off", seconds=trickle_seconds, pieces=12
        )
        slow.start()
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = wait_for_exit(server, trickle_seconds - 2)
        exited = time.monotonic()
        # The server did not wait for the rest of the body.
        assert not slow.finished_sending
        slow.join(JOIN_DEADLINE_SECONDS)

    assert exited - signalled < trickle_seconds - 2
    # uvicorn's word for cancelling what the grace period did not let finish.
    assert "timeout graceful shutdown exceeded" in server.stderr(), server.stderr()
    # Nothing half-received was stored.
    assert stored_titles(deployment.database_url) == {}
    assert_shut_down_cleanly(server, code)

    # The client of the request cut off saw its connection end, or an answer in the contract's
    # shape, as every response is: an error envelope with its X-Request-Id (not uvicorn's bare
    # text/plain 500).
    if slow.error is None and slow.data:
        cut_off = parse_response(slow.data)
        assert cut_off.status != 201, cut_off
        assert cut_off.headers.get("content-type") == "application/json", cut_off
        assert REQUEST_ID.match(cut_off.headers.get("x-request-id", "")), cut_off
        envelope = json.loads(cut_off.body)
        assert set(envelope) == {"requestId", "errors"}, envelope
        assert envelope["requestId"] == cut_off.headers["x-request-id"]


# --- point 5: SIGKILL --------------------------------------------------------------------------


@dataclass
class Tracked:
    """One meeting of one worker: its last acknowledged state, and the write in flight when
    the server died, if any (it may or may not have been applied)."""

    id: str
    title: str
    description: str
    deleted: bool = False
    unknown: tuple[str, str] | None = None  # ("update", title) or ("delete", "")
    unknown_description: str = ""


@dataclass
class Ledger:
    meetings: list[Tracked] = field(default_factory=list)
    unknown_creates: int = 0
    acknowledged: dict[str, int] = field(
        default_factory=lambda: {"create": 0, "update": 0, "delete": 0}
    )
    # What should not happen while the server runs: any other answer, or an error before the
    # kill, or anything but a TransportError after it.
    unexpected: list[str] = field(default_factory=list)


def write_load(
    server: Server, deployment: Deployment, worker: int, killed: threading.Event, ledger: Ledger
) -> None:
    """Creates, updates and deletes of this worker's own meetings, one at a time, until the
    server is gone. Each meeting has one writer, so its last acknowledged write is known."""
    rng = random.Random(worker)
    live: list[Tracked] = []
    deadline = time.monotonic() + LOAD_DEADLINE_SECONDS + 10
    with client(server, deployment) as http:
        for n in range(100_000):
            if time.monotonic() > deadline:
                ledger.unexpected.append(f"worker {worker}: the server never went away")
                return
            roll = rng.random()
            operation = (
                "create" if len(live) < 3 or roll < 0.4 else "update" if roll < 0.8 else "delete"
            )
            title, description = f"w{worker} #{n}", f"{operation} {n} by worker {worker}"
            target = None if operation == "create" else rng.choice(live)
            try:
                if operation == "create":
                    body = meeting_body(ORGANIZER, title=title, description=description)
                    response = http.post("/v2/meetings", json=body)
                elif operation == "update":
                    assert target is not None
                    body = meeting_body(ORGANIZER, title=title, description=description)
                    response = http.put(f"/v2/meetings/{target.id}", json=body)
                else:
                    assert target is not None
                    response = http.delete(f"/v2/meetings/{target.id}")
            except Exception as error:
                if not isinstance(error, httpx.TransportError) or not killed.is_set():
                    ledger.unexpected.append(f"worker {worker} {operation}: {error!r}")
                # Unacknowledged: it may or may not have been applied.
                if operation == "create":
                    ledger.unknown_creates += 1
                elif target is not None:
                    target.unknown = (operation, title)
                    target.unknown_description = description
                return
            expected = {"create": 201, "update": 200, "delete": 200}[operation]
            if response.status_code != expected:
                ledger.unexpected.append(
                    f"worker {worker} {operation}: {response.status_code} {response.text}"
                )
                return
            ledger.acknowledged[operation] += 1
            if operation == "delete":
                assert target is not None
                target.deleted = True
                live.remove(target)
                continue
            meeting = response.json()["meeting"]
            if meeting["title"] != title or meeting.get("description") != description:
                ledger.unexpected.append(f"worker {worker} {operation}: answered {meeting}")
                return
            if operation == "create":
                tracked = Tracked(response.json()["meetingId"], title, description)
                ledger.meetings.append(tracked)
                live.append(tracked)
            else:
                assert target is not None
                target.title, target.description = title, description


def test_sigkill_mid_write_load_loses_no_acknowledged_write(deployment: Deployment) -> None:
    killed = threading.Event()
    ledgers = [Ledger() for _ in range(6)]
    with serving(deployment) as server:
        workers = [
            threading.Thread(
                target=write_load, args=(server, deployment, n, killed, ledger), daemon=True
            )
            for n, ledger in enumerate(ledgers)
        ]
        for worker in workers:
            worker.start()
        wanted = {"create": 24, "update": 12, "delete": 6}
        deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
        while any(
            sum(ledger.acknowledged[op] for ledger in ledgers) < n for op, n in wanted.items()
        ):
            assert time.monotonic() < deadline, [ledger.acknowledged for ledger in ledgers]
            assert not any(ledger.unexpected for ledger in ledgers), [
                ledger.unexpected for ledger in ledgers
            ]
            time.sleep(0.01)
        killed.set()
        os.killpg(server.process.pid, signal.SIGKILL)
        assert server.process.wait(timeout=10) == -signal.SIGKILL
        for worker in workers:
            worker.join(JOIN_DEADLINE_SECONDS)
            assert not worker.is_alive(), "a client thread did not finish"

    assert [ledger.unexpected for ledger in ledgers] == [[]] * len(ledgers)
    tracked = [meeting for ledger in ledgers for meeting in ledger.meetings]
    unknown_creates = sum(ledger.unknown_creates for ledger in ledgers)

    wrong = []
    with serving(deployment) as restarted, client(restarted, deployment) as http:
        for meeting in tracked:
            read = http.get(f"/v2/meetings/{meeting.id}")
            acknowledged = (meeting.title, meeting.description)
            if read.status_code == 200:
                found = read.json()["meeting"]
                state: tuple[str, str | None] | None = (found["title"], found.get("description"))
            else:
                assert_error(read, 404)
                state = None
            if meeting.unknown is None:
                allowed = [None if meeting.deleted else acknowledged]
            elif meeting.unknown[0] == "update":
                allowed = [acknowledged, (meeting.unknown[1], meeting.unknown_description)]
            else:
                allowed = [acknowledged, None]
            if state not in allowed:
                wrong.append((meeting, state))
        total, listed = listed_meetings(http)

    assert wrong == [], f"{len(wrong)} of {len(tracked)} meetings not as acknowledged: {wrong}"
    # The list agrees with the reads, its kept count with its rows, and nothing is there that
    # no create (acknowledged or not) could have made.
    listed_ids = {m["id"] for m in listed}
    assert total == len(listed) == len(listed_ids)
    assert set(stored_titles(deployment.database_url)) == listed_ids
    present = {m.id for m in tracked if not m.deleted and m.unknown is None}
    gone = {m.id for m in tracked if m.deleted}
    assert present <= listed_ids
    assert not gone & listed_ids
    assert len(listed_ids - {m.id for m in tracked}) <= unknown_creates

    assert_database_intact(deployment)
