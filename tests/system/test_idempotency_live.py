"""One keyed create sent at the same moment to two `gong-meetings serve` processes on one
PostgreSQL database, on real sockets: one meeting, and every answer names it.

Each test gets a scratch database prepared through the console script. The processes are
separate (no --workers), so they need no shared Redis: rate limits are out of the way.
"""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error, connect, meeting_body, stored_meetings
from tests.postgres import postgres_url, scratch_database
from tests.storage.derived_tables import assert_derived_tables_consistent
from tests.system.live import SCRIPT, Server, admin, running_servers, server_env

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

WORKSPACE = "acme"
ORGANIZER = "organizer@acme.test"
SERVERS = 2
REQUESTS = 10
ROUNDS = 3
TIMEOUT_SECONDS = 20.0
REQUEST_TIMEOUT = httpx.Timeout(TIMEOUT_SECONDS)
CONFLICT = "Idempotency-Key: this key was used in the last 24 hours for a different request"


@dataclass(frozen=True)
class Deployment:
    database_url: str
    env: dict[str, str]
    auth: tuple[str, str]
    cwd: Path
    logs: Path


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with scratch_database(postgres_url()) as database_url:
        env = server_env(database_url)
        assert "schema upgraded" in admin(env, "migrate")
        admin(env, "workspaces", "create", WORKSPACE, "--rate-limit-per-second=1000000")
        admin(env, "users", "add", ORGANIZER, "--workspace", WORKSPACE, "--name", "Organizer")
        created = json.loads(admin(env, "keys", "create", "--workspace", WORKSPACE, "--json"))
        cwd = tmp_path / "work"
        cwd.mkdir()
        yield Deployment(
            database_url,
            env,
            (created["accessKey"], created["accessKeySecret"]),
            cwd,
            tmp_path / "logs",
        )


def at_once(
    servers: list[Server], auth: tuple[str, str], key: str, bodies: list[Any]
) -> list[httpx.Response]:
    """POST each body with `key`, from a thread each, released together, to the servers in
    turn; the responses in the order of `bodies`."""
    start = threading.Barrier(len(bodies))
    answers: list[httpx.Response | BaseException | None] = [None] * len(bodies)

    def send(index: int) -> None:
        server = servers[index % len(servers)]
        with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
            try:
                start.wait(timeout=TIMEOUT_SECONDS)
                answers[index] = http.post(
                    f"{server.base_url}/v2/meetings",
                    json=bodies[index],
                    headers={"Idempotency-Key": key},
                    auth=auth,
                )
            except BaseException as error:  # reported by the caller
                answers[index] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * TIMEOUT_SECONDS)
        assert not thread.is_alive()
    responses = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(responses) == len(bodies), answers
    return responses


def stderr_of(servers: list[Server]) -> str:
    return "\n".join(server.stderr() for server in servers)


def test_one_key_sent_to_two_servers_at_once_creates_one_meeting(
    deployment: Deployment,
) -> None:
    with running_servers(deployment.cwd, deployment.env, deployment.logs, SERVERS) as servers:
        for round_number in range(ROUNDS):
            body = meeting_body(ORGANIZER, title=f"Round {round_number}")
            answers = at_once(servers, deployment.auth, f"live-{round_number}", [body] * REQUESTS)

            statuses = [a.status_code for a in answers]
            assert statuses == [201] * REQUESTS, ([a.text for a in answers], stderr_of(servers))
            assert len({a.json()["meetingId"] for a in answers}) == 1
            assert len({json.dumps(a.json()["meeting"], sort_keys=True) for a in answers}) == 1
            replayed = [a.headers.get("idempotent-replayed") for a in answers]
            assert replayed.count("true") == REQUESTS - 1, replayed
            assert replayed.count(None) == 1, replayed
            assert len(stored_meetings(deployment.database_url)) == round_number + 1

    with connect(deployment.database_url) as connection:
        assert_derived_tables_consistent(connection)


def test_different_bodies_with_one_key_at_two_servers_create_one_meeting(
    deployment: Deployment,
) -> None:
    titles = [f"Title {i % 2}" for i in range(REQUESTS)]
    bodies = [meeting_body(ORGANIZER, title=title) for title in titles]
    with running_servers(deployment.cwd, deployment.env, deployment.logs, SERVERS) as servers:
        answers = at_once(servers, deployment.auth, "contested", bodies)

    rows = stored_meetings(deployment.database_url)
    assert len(rows) == 1, rows
    created = [a for a in answers if a.status_code == 201]
    assert created, [a.text for a in answers]
    winner = created[0].json()
    assert str(rows[0][0]) == winner["meetingId"]
    for title, answer in zip(titles, answers, strict=True):
        if title == winner["meeting"]["title"]:
            assert answer.status_code == 201, answer.text
            assert answer.json()["meetingId"] == winner["meetingId"]
        else:
            assert_error(answer, 409, CONFLICT)
    assert len(created) == REQUESTS // 2
    replayed = [a.headers.get("idempotent-replayed") for a in created]
    assert replayed.count("true") == len(created) - 1, replayed
