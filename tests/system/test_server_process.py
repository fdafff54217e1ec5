"""`gong-meetings serve` as a real process on a real socket: first run, restart, default database.

Each server is started from the installed console script, polled until it answers (with a
deadline) and always stopped, even when a test fails.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from gong_meetings.storage.tables import meetings
from tests.helpers import meeting_body
from tests.system.live import (
    SCRIPT,
    STARTUP_DEADLINE_SECONDS,
    STOP_DEADLINE_SECONDS,
    running_server,
    server_env,
    start_server,
)

CURL = Path("/usr/bin/curl")
BASH = shutil.which("bash") or "/bin/bash"
DEFAULT_ORGANIZER = "organizer@example.com"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def bash(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, "-c", command], capture_output=True, text=True, timeout=20)


def test_first_serve_prints_a_key_and_a_curl_that_creates_a_meeting(
    workdir: Path, logs: Path
) -> None:
    if not CURL.exists():
        pytest.skip("curl is not installed")
    url = f"sqlite:///{workdir}/x.db"
    env = server_env(url)

    with running_server(workdir, env, logs) as server:
        out = server.stdout()
        access_key, secret = server.key()
        assert len(secret) >= 43
        assert "Create a meeting:\n" in out
        curl = out.split("Create a meeting:\n", 1)[1].strip()
        assert curl.startswith("curl ")
        assert f"{server.base_url}/v2/meetings" in curl
        assert access_key in curl and secret in curl

        pasted = bash(curl)
        assert pasted.returncode == 0, pasted.stderr
        body = json.loads(pasted.stdout)
        assert re.fullmatch(r"[1-9][0-9]{0,18}", body["meetingId"]), body
        assert body["meeting"]["id"] == body["meetingId"]
        assert body["meeting"]["organizerEmail"] == DEFAULT_ORGANIZER
        assert re.fullmatch(r"[a-z0-9]{19}", body["requestId"])

        status = bash(f"{curl} -o /dev/null -w '%{{http_code}}'")
        assert status.stdout == "201", (status.stdout, status.stderr)

        # The meeting the pasted command made is really stored, under that key's workspace.
        stored = httpx.put(
            f"{server.base_url}/v2/meetings/{body['meetingId']}",
            json={},
            auth=(access_key, secret),
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["meeting"] == body["meeting"]

    with running_server(workdir, env, logs) as again:
        out = again.stdout()
        assert "accessKeySecret" not in out, out
        assert secret not in out and "curl" not in out
        still = httpx.put(
            f"{again.base_url}/v2/meetings/{body['meetingId']}",
            json={},
            auth=(access_key, secret),
        )
        assert still.status_code == 200, still.text

    database = Database(url)
    try:
        accounts = AccountService(database)
        assert [w.name for w in accounts.list_workspaces()] == ["default"]
        assert [k.access_key for k in accounts.list_keys("default")] == [access_key]
    finally:
        database.close()


def test_a_meeting_survives_a_sigterm_restart(workdir: Path, logs: Path) -> None:
    env = server_env(f"sqlite:///{workdir}/x.db")

    with running_server(workdir, env, logs) as server:
        auth = server.key()
        created = httpx.post(
            f"{server.base_url}/v2/meetings",
            json=meeting_body(DEFAULT_ORGANIZER, title="Before restart", description="kept"),
            auth=auth,
        )
        assert created.status_code == 201, created.text
        meeting = created.json()["meeting"]

        code, took = server.stop()
        # A graceful stop exits 0; a crash or a hang fails.
        assert code == 0, (code, server.stderr())
        assert took < STOP_DEADLINE_SECONDS
        assert "Application shutdown complete" in server.stderr()
        assert "Traceback" not in server.stderr()

    with running_server(workdir, env, logs) as restarted:
        meeting_url = f"{restarted.base_url}/v2/meetings/{meeting['id']}"
        unchanged = httpx.put(meeting_url, json={}, auth=auth)
        assert unchanged.status_code == 200, unchanged.text
        assert unchanged.json()["meetingId"] == meeting["id"]
        assert unchanged.json()["meeting"] == meeting

        deleted = httpx.delete(meeting_url, auth=auth)
        assert deleted.status_code == 200, deleted.text
        gone = httpx.put(meeting_url, json={}, auth=auth)
        assert gone.status_code == 404, gone.text


def test_default_database_is_a_file_in_the_working_directory(workdir: Path, logs: Path) -> None:
    database_file = workdir / "gong-meetings.db"
    assert not database_file.exists()

    with running_server(workdir, server_env(None), logs) as server:
        assert database_file.is_file()
        created = httpx.post(
            f"{server.base_url}/v2/meetings",
            json=meeting_body(DEFAULT_ORGANIZER),
            auth=server.key(),
        )
        assert created.status_code == 201, created.text

    database = Database(f"sqlite:///{database_file}")
    try:
        with database.engine.connect() as connection:
            ids = connection.execute(sa.select(meetings.c.id)).scalars().all()
        assert [str(i) for i in ids] == [created.json()["meetingId"]]
    finally:
        database.close()


def test_serve_refuses_an_unknown_newer_schema(workdir: Path, logs: Path) -> None:
    url = f"sqlite:///{workdir}/x.db"
    database = Database(url)
    try:
        upgrade(database.engine)
        with database.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        database.close()

    server, files = start_server(workdir, server_env(url), logs)
    try:
        code = server.process.wait(timeout=STARTUP_DEADLINE_SECONDS)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        for file in files:
            file.close()

    err = server.stderr()
    assert code != 0, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "9999" in errors[0] and "newer" in errors[0], errors
    assert err.rstrip("\n").endswith(errors[0])
    assert "accessKeySecret" not in server.stdout()
