"""Several `gong-meetings serve` processes on one PostgreSQL database and one Redis, on real
sockets.

Each test gets a scratch database, prepared through the console script (`migrate`,
`workspaces create`, `users add`, `keys create --json`), then starts real server processes
against it. Every wait is bounded by a deadline and every process is stopped, even when a test
fails. Linux only: worker processes are found through /proc.
"""

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, meeting_body
from tests.postgres import postgres_url, scratch_database
from tests.redis import empty_redis, redis_url
from tests.system import live
from tests.system.live import (
    SCRIPT,
    STARTUP_DEADLINE_SECONDS,
    STOP_DEADLINE_SECONDS,
    Server,
    server_env,
)
from tests.system.live import (
    admin as cli,
)

pytestmark = [
    pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}"),
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="worker processes are found via /proc"
    ),
]

WORKSPACE = "acme"
ORGANIZER = "organizer@acme.test"
# What the issue promises for a key revoked or a user removed through the CLI.
PROPAGATION_LIMIT_SECONDS = 5.0
# How long we keep polling before giving up; longer than the limit, so a slow answer is
# measured (and reported) rather than cut off.
POLL_DEADLINE_SECONDS = 8.0
POLL_INTERVAL_SECONDS = 0.05
REQUEST_TIMEOUT = httpx.Timeout(20.0)


# --- the console script ------------------------------------------------------------------------


def create_key(env: dict[str, str]) -> tuple[str, str]:
    created = json.loads(cli(env, "keys", "create", "--workspace", WORKSPACE, "--json"))
    assert set(created) == {"accessKey", "accessKeySecret"}, created
    return created["accessKey"], created["accessKeySecret"]


@dataclass(frozen=True)
class Deployment:
    """A migrated scratch database with workspace `acme`, its organizer and one key."""

    env: dict[str, str]
    auth: tuple[str, str]
    cwd: Path
    logs: Path


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    url = postgres_url()
    shared_counters = redis_url()  # several processes must share their rate-limit counts
    empty_redis(shared_counters)
    with scratch_database(url) as database_url:
        env = server_env(database_url)
        env["GONG_MEETINGS_REDIS_URL"] = shared_counters
        assert "schema upgraded" in cli(env, "migrate")
        # No --auto-provision-users; and limits out of the way of these tests' bursts.
        cli(env, "workspaces", "create", WORKSPACE, "--rate-limit-per-second=1000000")
        cli(env, "users", "add", ORGANIZER, "--workspace", WORKSPACE, "--name", "Organizer")
        auth = create_key(env)
        cwd = tmp_path / "work"
        cwd.mkdir()
        yield Deployment(env, auth, cwd, tmp_path / "logs")


# --- server processes --------------------------------------------------------------------------


@contextmanager
def running_servers(deployment: Deployment, count: int, *extra_args: str) -> Iterator[list[Server]]:
    """`count` separate `serve` processes on the deployment, each on its own port."""
    with live.running_servers(
        deployment.cwd, deployment.env, deployment.logs, count, *extra_args
    ) as servers:
        yield servers


# --- /proc ---------------------------------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile
        return None
    # The command name is in parentheses and may hold spaces; the fields after it do not.
    return int(stat.rsplit(")", 1)[1].split()[1])


def children(pid: int) -> set[int]:
    """The live child processes of `pid`, by scanning every process's parent."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _ppid(int(entry.name)) == pid:
            found.add(int(entry.name))
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            match = re.fullmatch(r"socket:\[(\d+)\]", target)
            if match:
                inodes.add(match[1])
    except OSError:
        pass
    return inodes


def listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on `port` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


# --- requests ----------------------------------------------------------------------------------


def url(server: Server, path: str) -> str:
    return f"{server.base_url}{path}"


def create(server: Server, auth: tuple[str, str], **overrides: Any) -> httpx.Response:
    return httpx.post(
        url(server, "/v2/meetings"),
        json=meeting_body(overrides.pop("organizer", ORGANIZER), **overrides),
        auth=auth,
        timeout=REQUEST_TIMEOUT,
    )


def put(server: Server, auth: tuple[str, str], meeting_id: str, body: Any) -> httpx.Response:
    return httpx.put(
        url(server, f"/v2/meetings/{meeting_id}"), json=body, auth=auth, timeout=REQUEST_TIMEOUT
    )


def integration_status(server: Server, auth: tuple[str, str], **body: str) -> httpx.Response:
    return httpx.post(
        url(server, "/v2/meetings/integration-status"),
        json=body,
        auth=auth,
        timeout=REQUEST_TIMEOUT,
    )


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


def poll_until(
    servers: list[Server], request: Callable[[Server], httpx.Response], done: int, allowed: int
) -> dict[int, float]:
    """Call `request` on every server until each answers `done`; seconds each took.

    Each server may answer only `allowed` (the old answer) or `done` meanwhile; anything else
    fails at once. A server that never answers `done` before the deadline is missing from the
    result.
    """
    started = time.monotonic()
    took: dict[int, float] = {}
    while len(took) < len(servers) and time.monotonic() - started < POLL_DEADLINE_SECONDS:
        for index, server in enumerate(servers):
            if index in took:
                continue
            response = request(server)
            if response.status_code == done:
                took[index] = time.monotonic() - started
            else:
                assert response.status_code == allowed, (index, response.status_code, response.text)
        time.sleep(POLL_INTERVAL_SECONDS)
    return took


# --- tests -------------------------------------------------------------------------------------


def test_serve_with_two_workers_runs_two_processes_that_each_answer(
    deployment: Deployment,
) -> None:
    with running_servers(deployment, 1, "--workers", "2") as (server,):
        # Both workers must have finished starting before we look at them.
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while (
            server.stderr().count("Application startup complete") < 2
            and time.monotonic() < deadline
            and server.process.poll() is None
        ):
            time.sleep(POLL_INTERVAL_SECONDS)
        assert server.stderr().count("Application startup complete") == 2, (
            f"expected 2 workers to start:\n{server.stderr()}"
        )

        listening = listening_inodes(server.port)
        assert listening, f"nothing listens on port {server.port}"
        # The workers are the children that hold the listening socket (multiprocessing may add a
        # helper process, such as its resource tracker, which does not).
        every_child = children(server.process.pid)
        workers = {pid for pid in every_child if _socket_inodes(pid) & listening}
        assert len(workers) == 2, (every_child, workers, server.stderr())
        started = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", server.stderr())}
        assert started == workers, (started, workers)

        # Each worker answers on its own: pause every other worker and ask; the request can
        # only be accepted by the one left running. (Pauses stay far below uvicorn's 5 s
        # health check.)
        auth = deployment.auth
        for serving in sorted(workers):
            paused = workers - {serving}
            for pid in paused:
                os.kill(pid, signal.SIGSTOP)
            try:
                created = ok(create(server, auth, title=f"Served by {serving}"), 201)
                again = put(server, auth, created["meetingId"], {})
            finally:
                for pid in paused:
                    os.kill(pid, signal.SIGCONT)
            assert ok(again)["meeting"] == created["meeting"]
            assert again.headers["etag"] == '"1"'

        # Requests keep succeeding with both running, and no worker died or was replaced.
        for number in range(10):
            ok(create(server, auth, title=f"Meeting {number}"), 201)
        assert {pid for pid in children(server.process.pid) if pid in workers} == workers
        assert all(is_alive(pid) for pid in workers)
        assert "Traceback" not in server.stderr()

    # Stopping the server stops its workers too.
    deadline = time.monotonic() + STOP_DEADLINE_SECONDS
    while any(is_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_SECONDS)
    assert not any(is_alive(pid) for pid in workers), workers


def test_two_processes_see_each_others_changes_at_once(deployment: Deployment) -> None:
    auth = deployment.auth
    with running_servers(deployment, 2) as (a, b):
        # Created through A, updated through B, seen through A.
        created = ok(create(a, auth, title="Made on A", description="first"), 201)
        meeting_id = created["meetingId"]
        updated = put(b, auth, meeting_id, {"title": "Changed on B", "description": "second"})
        assert ok(updated)["meeting"]["title"] == "Changed on B"
        assert updated.headers["etag"] == '"2"'
        seen = put(a, auth, meeting_id, {})
        assert ok(seen)["meeting"] == updated.json()["meeting"]
        assert seen.headers["etag"] == '"2"'

        # And the other way round: updated through A, seen through B.
        attendees = [{"emailAddress": "guest@example.com", "name": "Guest"}]
        updated = put(a, auth, meeting_id, {"attendees": attendees})
        assert ok(updated)["meeting"]["attendees"] == attendees
        seen = put(b, auth, meeting_id, {})
        assert ok(seen)["meeting"] == updated.json()["meeting"]
        assert seen.headers["etag"] == '"3"'

        # A second meeting, created through B, is there through A.
        other = ok(create(b, auth, title="Made on B"), 201)
        assert ok(put(a, auth, other["meetingId"], {}))["meeting"] == other["meeting"]

        # Deleted through B: gone through A, at once.
        deleted = httpx.delete(url(b, f"/v2/meetings/{meeting_id}"), auth=auth)
        assert deleted.status_code == 200, deleted.text
        assert_error(put(a, auth, meeting_id, {}), 404, "meetingId")
        assert_error(httpx.delete(url(a, f"/v2/meetings/{meeting_id}"), auth=auth), 404)
        assert_error(put(b, auth, meeting_id, {"title": "Too late"}), 404)
        # The other meeting is untouched.
        assert ok(put(a, auth, other["meetingId"], {}))["meeting"] == other["meeting"]

        # A user added and an integration set through the CLI: both processes see them at once.
        newcomer = "newcomer@acme.test"
        for server in (a, b):
            before = ok(integration_status(server, auth, userEmail=newcomer))
            assert before["isIntegrated"] is False, before
            assert "not a user" in before["details"], before
            assert_error(create(server, auth, organizer=newcomer), 400, "organizerEmail")
        cli(deployment.env, "users", "add", newcomer, "--workspace", WORKSPACE)
        cli(
            deployment.env,
            "integrations",
            "set",
            newcomer,
            "zoom",
            "Active",
            "--workspace",
            WORKSPACE,
        )
        for server in (a, b):
            answer = ok(
                integration_status(server, auth, userEmail=newcomer, meetingProvider="Zoom")
            )
            assert answer["isIntegrated"] is True, answer
            assert answer["status"] == "Active", answer
            assert answer["provider"] == "Zoom", answer
            by_provider = ok(integration_status(server, auth, meetingProvider="Zoom"))
            assert by_provider["isIntegrated"] is True, by_provider
            # The newcomer can organise meetings now, on either process.
            made = ok(create(server, auth, organizer=newcomer), 201)
            assert made["meeting"]["organizerEmail"] == newcomer

        # A change of status is seen by both at once too.
        cli(
            deployment.env,
            "integrations",
            "set",
            newcomer,
            "Zoom",
            "Error",
            "--workspace",
            WORKSPACE,
            "--details",
            "token expired",
        )
        for server in (a, b):
            answer = ok(integration_status(server, auth, userEmail=newcomer))
            assert (answer["isIntegrated"], answer["status"]) == (False, "Error"), answer
            assert answer["details"] == "token expired", answer

        for server in (a, b):
            assert "Traceback" not in server.stderr(), server.stderr()


def test_a_key_revoked_through_the_cli_stops_working_on_every_process(
    deployment: Deployment,
) -> None:
    revoked = create_key(deployment.env)
    kept = deployment.auth

    def check(key: tuple[str, str]) -> Callable[[Server], httpx.Response]:
        return lambda server: integration_status(server, key, userEmail=ORGANIZER)

    with running_servers(deployment, 2) as servers:
        # Working on both right before; these requests also put the key in each one's cache.
        for server in servers:
            for _ in range(3):
                ok(check(revoked)(server))

        cli(deployment.env, "keys", "revoke", revoked[0])
        took = poll_until(servers, check(revoked), done=401, allowed=200)

        assert set(took) == {0, 1}, f"still accepted after {POLL_DEADLINE_SECONDS}s: {took}"
        assert max(took.values()) < PROPAGATION_LIMIT_SECONDS, took
        for server in servers:
            # It stays refused, on every endpoint, and the other key is unaffected.
            assert_error(check(revoked)(server), 401, "Unauthorized")
            assert_error(create(server, revoked), 401)
            ok(check(kept)(server))
            ok(create(server, kept), 201)


def test_a_user_removed_through_the_cli_stops_being_an_organizer_on_every_process(
    deployment: Deployment,
) -> None:
    leaver = "leaver@acme.test"
    cli(deployment.env, "users", "add", leaver, "--workspace", WORKSPACE)
    auth = deployment.auth

    def organised_by_leaver(server: Server) -> httpx.Response:
        return create(server, auth, organizer=leaver)

    with running_servers(deployment, 2) as servers:
        for server in servers:  # an organizer on both right before
            assert ok(organised_by_leaver(server), 201)["meeting"]["organizerEmail"] == leaver

        cli(deployment.env, "users", "remove", leaver, "--workspace", WORKSPACE)
        took = poll_until(servers, organised_by_leaver, done=400, allowed=201)

        assert set(took) == {0, 1}, f"still an organizer after {POLL_DEADLINE_SECONDS}s: {took}"
        assert max(took.values()) < PROPAGATION_LIMIT_SECONDS, took
        for server in servers:
            assert_error(organised_by_leaver(server), 400, "organizerEmail", leaver)
            answer = ok(integration_status(server, auth, userEmail=leaver))
            assert "not a user" in answer["details"], answer
            # Others still organise, so the 400 is about that user alone.
            ok(create(server, auth), 201)


# One change per PUT, cycling through the fields an update may change; every value is unique,
# and any mix of them is still a valid meeting (every start is on the 15th, every end on the 16th).
def _change(i: int) -> dict[str, Any]:
    field = i % 6
    if field == 0:
        return {"title": f"Title {i}"}
    if field == 1:
        return {"description": f"Description {i}"}
    if field == 2:
        return {"meetingUrl": f"https://meet.example.com/room-{i}"}
    if field == 3:
        return {"attendees": [{"emailAddress": f"guest{i}@example.com", "name": f"Guest {i}"}]}
    if field == 4:
        return {"scheduledStart": f"2030-01-15T09:{i:02d}:00Z"}
    return {"scheduledEnd": f"2030-01-16T17:{i:02d}:00Z"}


CHANGES = [_change(i) for i in range(50)]


def _comparable(meeting: dict[str, Any]) -> dict[str, Any]:
    """The meeting with its date-times as instants, so that equal times compare equal."""
    found = dict(meeting)
    for field in ("scheduledStart", "scheduledEnd"):
        found[field] = datetime.fromisoformat(found[field])
    return found


async def test_fifty_concurrent_puts_over_two_processes_lose_no_update(
    deployment: Deployment,
) -> None:
    auth = deployment.auth
    with running_servers(deployment, 2) as servers:
        created = ok(create(servers[0], auth, title="Contended"), 201)
        meeting_id = created["meetingId"]
        path = f"/v2/meetings/{meeting_id}"

        async with (
            httpx.AsyncClient(base_url=servers[0].base_url, auth=auth, timeout=30) as a,
            httpx.AsyncClient(base_url=servers[1].base_url, auth=auth, timeout=30) as b,
        ):
            responses = await asyncio.gather(
                *(
                    (a if i % 2 == 0 else b).put(path, json=change)
                    for i, change in enumerate(CHANGES)
                )
            )

        problems = [
            (i, r.status_code, r.text)
            for i, r in enumerate(responses)
            if r.status_code != 200 or "deadlock" in r.text.lower()
        ]
        assert not problems, problems

        # Each PUT was applied exactly once, one after another: versions 2 to 51, each once.
        versions = [int(r.headers["etag"].strip('"')) for r in responses]
        assert sorted(versions) == list(range(2, 52)), versions
        # Each answer shows its own change on top of exactly the answer one version before it.
        by_version = {
            v: (CHANGES[i], responses[i].json()["meeting"]) for i, v in enumerate(versions)
        }
        previous = created["meeting"]
        for version in range(2, 52):
            change, meeting = by_version[version]
            expected = {**previous, **change}
            assert _comparable(meeting) == _comparable(expected), (version, change, meeting)
            previous = meeting

        # Both processes now return the outcome of the last update, with its ETag.
        for server in servers:
            final = put(server, auth, meeting_id, {})
            assert ok(final)["meeting"] == by_version[51][1]
            assert final.headers["etag"] == '"51"'
        assert any(final.json()["meeting"] == r.json()["meeting"] for r in responses)
        for server in servers:
            assert "Traceback" not in server.stderr(), server.stderr()
