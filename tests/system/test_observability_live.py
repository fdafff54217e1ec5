"""Logs and metrics of real `gong-meetings serve` processes.

The server's stderr is a file here, not a terminal, so its log lines are JSON by default; with
GONG_MEETINGS_LOG_FORMAT=text they are readable lines. With `--workers 2`, any worker's
/metrics sums the counts of both: one worker at a time is paused (SIGSTOP) so that each of them
is known to have served its share, and so that each /metrics read is known to come from it.
"""

import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.api.test_metrics import DURATION, REQUESTS, parse_samples, value
from tests.helpers import assert_error, assert_request_id, meeting_body
from tests.system.live import (
    SCRIPT,
    STARTUP_DEADLINE_SECONDS,
    Server,
    running_server,
    running_servers,
    server_env,
)

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

# Redis database 14 is this file's own (the other tests empty 15 as they go).
REDIS_URL = "redis://127.0.0.1:6379/14"
METRICS_TOKEN = "live-metrics-token-2b8e51"
DEFAULT_ORGANIZER = "organizer@example.com"
ACCESS = "gong_meetings.access"
ACCESS_FIELDS = {"requestId", "workspace", "method", "route", "path", "status", "durationMs"}
COMMON_KEYS = {"level", "logger", "message", "time"}
REQUEST_TIMEOUT = httpx.Timeout(10.0)
POLL_INTERVAL_SECONDS = 0.05
# Requests served by each worker, in turns while the other is paused; each pause stays far
# below the 5 seconds uvicorn gives a worker to answer its health check.
TURNS = 2
PER_TURN = 10


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of `stderr`, each of which must be one JSON object."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    parsed = []
    for line in lines:
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
        assert isinstance(item, dict), line
        assert set(item) >= COMMON_KEYS, item
        parsed.append(item)
    return parsed


def access_line(lines: list[dict[str, Any]], response: httpx.Response) -> dict[str, Any]:
    request_id = assert_request_id(response)
    found = [line for line in lines if line["logger"] == ACCESS and line["requestId"] == request_id]
    assert len(found) == 1, (request_id, lines)
    return found[0]


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return server_env(f"sqlite:///{tmp_path}/observed.db")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


# --- the log format ------------------------------------------------------------------------------


def test_log_lines_are_json_objects_and_access_lines_have_every_field(
    sqlite_env: dict[str, str], workdir: Path, tmp_path: Path
) -> None:
    with (
        running_server(workdir, sqlite_env, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http,
    ):
        key = server.key()
        created = http.post("/v2/meetings", json=meeting_body(DEFAULT_ORGANIZER), auth=key)
        assert created.status_code == 201, created.text
        meeting_id = created.json()["meetingId"]
        read = http.get(f"/v2/meetings/{meeting_id}", auth=key)
        assert read.status_code == 200, read.text
        refused = http.get(f"/v2/meetings/{meeting_id}", auth=(key[0], "wrong secret"))
        assert_error(refused, 401)
        health = http.get("/healthz")
        unknown = http.get("/v2/nowhere")
        assert_error(unknown, 404)
        metrics = http.get("/metrics")  # open: no token is configured
        assert metrics.status_code == 200, metrics.text
    # Stopped: the shutdown's lines are in the file too.
    stderr = server.stderr()
    lines = json_lines(stderr)

    expected = [
        (created, "POST", "/v2/meetings", "/v2/meetings", "default"),
        (read, "GET", "/v2/meetings/{meetingId}", f"/v2/meetings/{meeting_id}", "default"),
        (refused, "GET", "/v2/meetings/{meetingId}", f"/v2/meetings/{meeting_id}", None),
        (health, "GET", "/healthz", "/healthz", None),
        (unknown, "GET", "unmatched", "/v2/nowhere", None),
        (metrics, "GET", "/metrics", "/metrics", None),
    ]
    for response, method, route, path, workspace in expected:
        line = access_line(lines, response)
        assert set(line) >= COMMON_KEYS | ACCESS_FIELDS, line
        assert (line["level"], line["method"], line["route"], line["path"]) == (
            "INFO",
            method,
            route,
            path,
        )
        assert (line["status"], line["workspace"]) == (response.status_code, workspace)
        assert isinstance(line["durationMs"], int | float) and line["durationMs"] >= 0, line
        assert line["message"].startswith(f"{method} {path} {response.status_code} "), line
        assert f"request_id={line['requestId']}" in line["message"], line
    # One line per request (besides wait_until_ready's polls of /openapi.json).
    logged = [line for line in lines if line["logger"] == ACCESS]
    assert len([line for line in logged if line["path"] != "/openapi.json"]) == len(expected)
    # uvicorn's own lines are JSON as well, without its terminal-coloured copy of the message.
    messages = [line["message"] for line in lines]
    assert any("Application startup complete" in m for m in messages), messages
    assert any("Shutting down" in m for m in messages), messages
    assert not any("color_message" in line for line in lines), lines
    # The secret of the key the calls authenticated with is nowhere in the logs.
    assert key[1] not in stderr


def test_text_log_lines_are_not_json_and_name_method_path_status(
    sqlite_env: dict[str, str], workdir: Path, tmp_path: Path
) -> None:
    sqlite_env["GONG_MEETINGS_LOG_FORMAT"] = "text"
    with (
        running_server(workdir, sqlite_env, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http,
    ):
        health = http.get("/healthz")
        unknown = http.get("/v2/nowhere")
    stderr = server.stderr()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, stderr
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
    for response, text in ((health, "GET /healthz 200 "), (unknown, "GET /v2/nowhere 404 ")):
        request_id = assert_request_id(response)
        found = [line for line in lines if f"request_id={request_id}" in line]
        assert len(found) == 1, (request_id, stderr)
        assert " INFO gong_meetings.access: " in found[0], found[0]
        assert text in found[0] and found[0].endswith(" workspace=-"), found[0]


# --- two workers -------------------------------------------------------------------------------


@pytest.fixture
def shared_counters() -> str:
    """Redis database 14, emptied: what `--workers 2` needs for its rate-limit counts."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.flushdb()
    except redis.ConnectionError as error:
        pytest.skip(f"serve --workers needs Redis at {REDIS_URL}: {error}")
    return REDIS_URL


def worker_pids(server: Server) -> set[int]:
    """The workers' pids, once both have logged that they started."""
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while time.monotonic() < deadline and server.process.poll() is None:
        if server.stderr().count("Application startup complete") >= 2:
            break
        time.sleep(POLL_INTERVAL_SECONDS)
    stderr = server.stderr()
    assert stderr.count("Application startup complete") == 2, stderr
    pids = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", stderr)}
    assert len(pids) == 2, stderr
    return pids


@pytest.fixture
def paused() -> Iterator[set[int]]:
    """Pids the test paused with SIGSTOP; whatever happens, each is resumed at the end."""
    stopped: set[int] = set()
    try:
        yield stopped
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)


def pause(stopped: set[int], pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)
    stopped.add(pid)


def resume(stopped: set[int], pid: int) -> None:
    os.kill(pid, signal.SIGCONT)
    stopped.discard(pid)


def fresh_get(server: Server, path: str, **kwargs: Any) -> httpx.Response:
    """One GET on a connection of its own, so that any worker may accept it."""
    return httpx.get(f"{server.base_url}{path}", timeout=REQUEST_TIMEOUT, **kwargs)


def summed(server: Server) -> tuple[float, float]:
    """(requests counted for GET /healthz with 200, and its histogram's count) in /metrics."""
    response = fresh_get(server, "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    samples = parse_samples(response.text)
    return (
        value(samples, REQUESTS, method="GET", route="/healthz", status="200"),
        value(samples, f"{DURATION}_count", method="GET", route="/healthz"),
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGSTOP pauses a worker")
def test_with_two_workers_any_workers_metrics_sum_both(
    sqlite_env: dict[str, str],
    workdir: Path,
    tmp_path: Path,
    shared_counters: str,
    paused: set[int],
) -> None:
    sqlite_env["GONG_MEETINGS_REDIS_URL"] = shared_counters
    sqlite_env["GONG_MEETINGS_METRICS_TOKEN"] = METRICS_TOKEN
    sqlite_env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes a directory of its own...
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    sqlite_env["TMPDIR"] = str(temporary)  # ...here, where the test can see it
    with running_servers(workdir, sqlite_env, tmp_path / "logs", 1, "--workers", "2") as (server,):
        workers = worker_pids(server)
        # Only the worker left running can accept: each serves its share of the requests in
        # short turns, and then any one's /metrics must count both workers' requests.
        responses: list[httpx.Response] = []
        for _ in range(TURNS):
            for serving in sorted(workers):
                (other,) = workers - {serving}
                pause(paused, other)
                try:
                    responses.extend(fresh_get(server, "/healthz") for _ in range(PER_TURN))
                finally:
                    resume(paused, other)
        assert [r.status_code for r in responses] == [200] * len(responses)
        total = TURNS * PER_TURN * len(workers)
        assert total == 40

        for reader in sorted(workers):
            (other,) = workers - {reader}
            pause(paused, other)
            try:
                from_reader = summed(server)
            finally:
                resume(paused, other)
            assert from_reader == (total, total), (reader, from_reader)
        # With both running, every read agrees, whichever worker answers it.
        for _ in range(6):
            assert summed(server) == (total, total)

        # The token is required on every worker.
        refused = fresh_get(server, "/metrics")
        assert_error(refused, 401, "Authorization")
        assert refused.headers["www-authenticate"].startswith("Bearer ")
        wrong = fresh_get(server, "/metrics", headers={"Authorization": "Bearer wrong"})
        assert_error(wrong, 401)
        basic = fresh_get(server, "/metrics", auth=server.key())
        assert_error(basic, 401)
        assert METRICS_TOKEN not in refused.text + wrong.text + basic.text

        # Both workers wrote one JSON access line for each request they served.
        lines = json_lines(server.stderr())
        for response in responses:
            line = access_line(lines, response)
            assert (line["route"], line["status"], line["workspace"]) == ("/healthz", 200, None)
        assert server.process.poll() is None
        assert "Traceback" not in server.stderr()

        # The workers' values are in files in one temporary directory...
        (shared,) = temporary.glob("gong-meetings-metrics-*")
        assert list(shared.glob("*.db")), list(shared.iterdir())
    # ...which goes when the server stops.
    assert server.process.returncode is not None
    assert not shared.exists(), list(shared.iterdir())
