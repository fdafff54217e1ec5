"""Rate limits on real sockets: shared through Redis by several processes, changed live.

Each test prepares a SQLite database through the console script, then starts real `serve`
processes on it. Several processes may share one SQLite file (it is in WAL mode); what they
must also share is the rate-limit count, and for that they need Redis.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import assert_error
from tests.redis import empty_redis, redis_url
from tests.system.live import SCRIPT, Server, admin, running_servers, server_env

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

WORKSPACE = "metered"
ORGANIZER = "organizer@metered.test"
STATUS_PATH = "/v2/meetings/integration-status"
STATUS_BODY = {"userEmail": ORGANIZER}
# What the issue promises for a limit changed through the CLI.
PROPAGATION_LIMIT_SECONDS = 5.0
POLL_DEADLINE_SECONDS = 8.0


@dataclass(frozen=True)
class Site:
    env: dict[str, str]
    auth: tuple[str, str]
    cwd: Path
    logs: Path


def prepare(tmp_path: Path, *limits: str, redis: str | None = None) -> Site:
    """A migrated SQLite database with workspace `metered`, its organizer and one key."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    env = server_env(f"sqlite:///{cwd}/limits.db")
    if redis is not None:
        env["GONG_MEETINGS_REDIS_URL"] = redis
    admin(env, "migrate")
    admin(env, "workspaces", "create", WORKSPACE, *limits)
    admin(env, "users", "add", ORGANIZER, "--workspace", WORKSPACE)
    key = json.loads(admin(env, "keys", "create", "--workspace", WORKSPACE, "--json"))
    return Site(env, (key["accessKey"], key["accessKeySecret"]), cwd, tmp_path / "logs")


@contextmanager
def serving(site: Site, count: int) -> Iterator[list[Server]]:
    with running_servers(site.cwd, site.env, site.logs, count) as servers:
        yield servers


def check_status(server: Server, auth: tuple[str, str]) -> httpx.Response:
    return httpx.post(f"{server.base_url}{STATUS_PATH}", json=STATUS_BODY, auth=auth, timeout=10)


def test_two_processes_on_one_redis_hold_their_combined_calls_to_the_daily_limit(
    tmp_path: Path,
) -> None:
    shared = redis_url()
    empty_redis(shared)
    site = prepare(
        tmp_path, "--rate-limit-per-second=1000", "--rate-limit-per-day=10", redis=shared
    )
    with serving(site, 2) as (first, second):
        answers = [check_status(server, site.auth) for _ in range(8) for server in (first, second)]

    allowed = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    # Each process alone would have allowed 10 of its 8 calls; together they get 10 of 16.
    assert (len(allowed), len(refused)) == (10, 6), [a.status_code for a in answers]
    assert answers[:10] == allowed, "calls after the tenth were allowed"
    # The remaining count each process reports comes from the one shared counter.
    remaining = [a.headers["RateLimit"].split(", ")[1] for a in allowed]
    assert [r.split(";")[1] for r in remaining] == [f"r={n}" for n in range(9, -1, -1)]
    for answer in refused:
        assert_error(answer, 429, "10 calls per day")
        assert int(answer.headers["Retry-After"]) >= 1


def test_a_limit_changed_with_the_cli_applies_on_every_process_within_five_seconds(
    tmp_path: Path,
) -> None:
    shared = redis_url()
    empty_redis(shared)
    site = prepare(tmp_path, "--rate-limit-per-second=1000", redis=shared)
    with serving(site, 2) as servers:
        for server in servers:  # the servers have read and cached the old limits
            assert (
                '"per-second";q=1000;w=1'
                in check_status(server, site.auth).headers["RateLimit-Policy"]
            )
        admin(site.env, "workspaces", "update", WORKSPACE, "--rate-limit-per-second=999")
        changed = time.monotonic()
        took: dict[int, float] = {}
        while len(took) < len(servers) and time.monotonic() - changed < POLL_DEADLINE_SECONDS:
            for server in servers:
                policy = check_status(server, site.auth).headers["RateLimit-Policy"]
                if server.port not in took and '"per-second";q=999;w=1' in policy:
                    took[server.port] = time.monotonic() - changed
            time.sleep(0.05)

    assert len(took) == len(servers), f"not every process saw the new limit: {took}"
    assert max(took.values()) <= PROPAGATION_LIMIT_SECONDS, took


def test_a_client_that_waits_retry_after_on_a_real_socket_then_succeeds(tmp_path: Path) -> None:
    site = prepare(tmp_path)  # Gong's defaults: 3 calls a second, counted in memory
    with serving(site, 1) as (server,), httpx.Client(base_url=server.base_url) as http:
        # Calls until one is refused: at most 3 fit in a second, whatever the start.
        for _ in range(20):
            refused = http.post(STATUS_PATH, json=STATUS_BODY, auth=site.auth)
            if refused.status_code == 429:
                break
        assert_error(refused, 429, "3 calls per second", "retry after 1 second")
        assert refused.headers["Retry-After"] == "1"

        time.sleep(int(refused.headers["Retry-After"]))
        retried = http.post(STATUS_PATH, json=STATUS_BODY, auth=site.auth)
        assert retried.status_code == 200, retried.text
        assert retried.headers["RateLimit"].startswith('"per-second";r=2;t=1, "per-day";r=')
