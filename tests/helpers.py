"""Shared test helpers: a tenant to call as, request bodies, the error-envelope check, the CLI."""

import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import Connection, select
from starlette.types import ASGIApp

from gong_meetings.cli import main
from gong_meetings.config import Settings
from gong_meetings.records import Quota
from gong_meetings.server import create_app
from gong_meetings.service.accounts import AccountService
from gong_meetings.service.ratelimits import Clock
from gong_meetings.storage.database import Database
from gong_meetings.storage.tables import meetings

REQUEST_ID = re.compile(r"^[a-z0-9]{19}$")


# The peer address the ASGI transport reports unless told otherwise (httpx's own default).
DEFAULT_PEER = ("127.0.0.1", 123)


@asynccontextmanager
async def running_app(settings: Settings, clock: Clock | None = None) -> AsyncIterator[ASGIApp]:
    """An app built with `settings` (and a rate-limit `clock`, if given), started and stopped."""
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    async with LifespanManager(app) as manager:
        yield manager.app


def http_client(app: ASGIApp, client: tuple[str, int] = DEFAULT_PEER) -> httpx.AsyncClient:
    """A client of a running app, in-process, arriving from the peer address `client`."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    clock: Clock | None = None,
    client: tuple[str, int] = DEFAULT_PEER,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to an app built with `settings`, in-process (ASGI transport)."""
    async with running_app(settings, clock) as app, http_client(app, client) as http:
        yield http


@dataclass(frozen=True)
class Tenant:
    workspace: str
    organizer: str
    auth: tuple[str, str]


# Limits out of the way of tests that are not about them; those that are set their own.
ROOMY_QUOTA = Quota(per_second=1_000_000, per_day=1_000_000_000)


def make_tenant(
    accounts: AccountService,
    workspace: str,
    *,
    auto_provision: bool = False,
    quota: Quota = ROOMY_QUOTA,
) -> Tenant:
    accounts.create_workspace(workspace, auto_provision, quota)
    organizer = f"organizer@{workspace}.test"
    accounts.add_user(workspace, organizer, "Organizer")
    key = accounts.create_key(workspace)
    return Tenant(workspace, organizer, (key.access_key, key.access_key_secret))


def meeting_body(organizer: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Quarterly review",
        "scheduledStart": "2030-01-15T10:00:00Z",
        "scheduledEnd": "2030-01-15T11:00:00Z",
        "organizerEmail": organizer,
    }
    body.update(overrides)
    return body


def assert_request_id(response: httpx.Response) -> str:
    """The response's X-Request-Id, checked for format; returned for further checks."""
    request_id = response.headers.get("x-request-id", "")
    assert REQUEST_ID.match(request_id), response.headers
    return request_id


def assert_error(response: httpx.Response, status: int, *fragments: str) -> list[str]:
    """The contract's envelope, with the status and messages containing each fragment."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"requestId", "errors"}, body
    assert body["requestId"] == assert_request_id(response)
    errors = body["errors"]
    assert errors and all(isinstance(e, str) and e for e in errors), body
    for fragment in fragments:
        assert any(fragment in e for e in errors), (fragment, errors)
    assert not any("Traceback" in e or "sqlalchemy" in e.lower() for e in errors)
    return errors


def assert_insufficient_scope(response: httpx.Response, scope: str) -> None:
    """403 for a bearer token without `scope`, with the RFC 6750 challenge naming it."""
    assert_error(response, 403, scope)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer "), challenge
    assert 'error="insufficient_scope"' in challenge, challenge
    assert f'scope="{scope}"' in challenge, challenge


async def create_meeting(
    client: httpx.AsyncClient, tenant: Tenant, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer, **overrides), auth=tenant.auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def connect(database_url: str) -> Iterator[Connection]:
    """A connection to the test database, for looking at what is stored."""
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            yield connection
    finally:
        database.close()


class CliResult(NamedTuple):
    """What a `gong-meetings` command did; a tuple, so `(code, out, err)` compares and unpacks."""

    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run `gong-meetings ARGS` in-process; success returns, failure calls sys.exit."""
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    else:
        code = 0
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


async def call_operation(
    client: httpx.AsyncClient,
    operation: str,
    tenant: Tenant,
    meeting_id: str,
    *,
    headers: dict[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    """One of the four seed operations ("create", "update", "delete", "status"), with a body
    it accepts from a caller allowed to make it. An update renames the meeting "Renamed"."""
    kwargs: dict[str, Any] = {"headers": headers, "auth": auth}
    if operation == "create":
        return await client.post("/v2/meetings", json=meeting_body(tenant.organizer), **kwargs)
    if operation == "update":
        return await client.put(f"/v2/meetings/{meeting_id}", json={"title": "Renamed"}, **kwargs)
    if operation == "delete":
        return await client.delete(f"/v2/meetings/{meeting_id}", **kwargs)
    return await client.post(
        "/v2/meetings/integration-status", json={"userEmail": tenant.organizer}, **kwargs
    )


def stored_meetings(database_url: str) -> list[tuple[Any, ...]]:
    """Every stored meeting row, in a stable order."""

    with connect(database_url) as connection:
        return sorted(tuple(row) for row in connection.execute(select(meetings)))


def assert_one_line_error(result: CliResult, *fragments: str) -> str:
    """A CLI failure: one `error:` line holding each fragment, nothing on stdout, no traceback."""
    assert result.code != 0, result
    assert "Traceback" not in result.err, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.out == "", result.out
    return lines[0]


def isolated_cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file of the test's own, named only through GONG_MEETINGS_DATABASE_URL, with
    every other GONG_MEETINGS_ setting removed: what a CLI test runs against."""
    for name in list(os.environ):
        if name.startswith("GONG_MEETINGS_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    return url
