"""`gong-meetings tokens issue|list|revoke`, in-process, on both databases.

Each command reads GONG_MEETINGS_DATABASE_URL only; the tokens it prints are then used against
an app built on the same database.
"""

import asyncio
import dataclasses
import json
import os
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gong_meetings.config import Settings
from gong_meetings.storage.tables import tokens
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    assert_one_line_error,
    connect,
    meeting_body,
    run_cli,
)

CREATE = "api:meetings:user:create"
UPDATE = "api:meetings:user:update"
DELETE = "api:meetings:user:delete"
STATUS = "api:meetings:integration:status"
READ = "api:meetings:user:read"  # an addition, for GET
ALL_SCOPES = frozenset({CREATE, UPDATE, DELETE, STATUS, READ})
TOKEN_ID = re.compile(r"tok_[0-9a-f]+")


@pytest.fixture(autouse=True)
def environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The commands see the test database through GONG_MEETINGS_DATABASE_URL and nothing else."""
    for name in list(os.environ):
        if name.startswith("GONG_MEETINGS_") and not name.startswith("GONG_MEETINGS_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", database_url)
    return database_url


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = run_cli(capsys, *args)
    assert result.code == 0, result
    assert result.err == "", result
    return result.out


def issue_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    out = ok(capsys, "tokens", "issue", *args, "--json")
    assert out.endswith("\n") and out.count("\n") == 1, out
    issued: dict[str, Any] = json.loads(out)
    return issued


def issue_plain(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    """The human-readable form: `name: value` lines, with the token id to revoke it by."""
    out = ok(capsys, "tokens", "issue", *args)
    fields = dict(re.findall(r"^(\w+):\s+(.*)$", out, re.MULTILINE))
    assert {"accessToken", "tokenId"} <= set(fields), out
    assert TOKEN_ID.fullmatch(fields["tokenId"]), out
    return fields


def token_count(database_url: str) -> int:
    with connect(database_url) as connection:
        return int(connection.execute(select(func.count()).select_from(tokens)).scalar_one())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status(client: httpx.AsyncClient, tenant: Tenant, token: str) -> httpx.Response:
    return await client.post(
        "/v2/meetings/integration-status",
        json={"userEmail": tenant.organizer},
        headers=bearer(token),
    )


def assert_invalid_token(response: httpx.Response) -> None:
    assert_error(response, 401)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, challenge


def assert_insufficient_scope(response: httpx.Response, scope: str) -> None:
    assert_error(response, 403, scope)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer "), challenge
    assert 'error="insufficient_scope"' in challenge, challenge


# --- issue -------------------------------------------------------------------------------------


async def test_issue_json_prints_exactly_the_token_fields_and_the_token_works(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, settings: Settings
) -> None:
    issued = issue_json(capsys, "--workspace", tenant.workspace)
    assert set(issued) == {"accessToken", "expiresIn", "scope"}, issued
    assert issued["expiresIn"] == 86_400
    assert set(issued["scope"].split(" ")) == ALL_SCOPES
    token = issued["accessToken"]
    assert isinstance(token, str) and len(token) >= 32
    headers = bearer(token)
    async with app_client(settings) as client:
        created = await client.post(
            "/v2/meetings", json=meeting_body(tenant.organizer), headers=headers
        )
        assert created.status_code == 201, created.text
        meeting_id = created.json()["meetingId"]
        updated = await client.put(
            f"/v2/meetings/{meeting_id}", json={"title": "From the CLI"}, headers=headers
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["meeting"]["title"] == "From the CLI"
        checked = await status(client, tenant, token)
        assert checked.status_code == 200, checked.text
        deleted = await client.delete(f"/v2/meetings/{meeting_id}", headers=headers)
        assert deleted.status_code == 200, deleted.text
        # It acted in acme: acme's key no longer finds the meeting.
        gone = await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth)
        assert_error(gone, 404)


async def test_issue_with_one_scope_and_a_ttl(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, settings: Settings
) -> None:
    issued = issue_json(capsys, "--workspace", tenant.workspace, "--scope", STATUS, "--ttl", "120")
    assert issued["scope"] == STATUS
    assert issued["expiresIn"] == 120
    async with app_client(settings) as client:
        checked = await status(client, tenant, issued["accessToken"])
        assert checked.status_code == 200, checked.text
        refused = await client.post(
            "/v2/meetings",
            json=meeting_body(tenant.organizer),
            headers=bearer(issued["accessToken"]),
        )
        assert_insufficient_scope(refused, CREATE)


def test_scopes_may_be_repeated_or_space_separated(
    capsys: pytest.CaptureFixture[str], tenant: Tenant
) -> None:
    issued = issue_json(
        capsys, "--workspace", tenant.workspace, "--scope", f"{CREATE} {UPDATE}", "--scope", DELETE
    )
    assert set(issued["scope"].split(" ")) == {CREATE, UPDATE, DELETE}


def test_the_default_lifetime_comes_from_the_environment(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_TOKEN_TTL_SECONDS", "300")
    assert issue_json(capsys, "--workspace", tenant.workspace)["expiresIn"] == 300
    # --ttl still wins.
    assert issue_json(capsys, "--workspace", tenant.workspace, "--ttl", "60")["expiresIn"] == 60


def test_issue_without_json_shows_the_token_once_with_its_id(
    capsys: pytest.CaptureFixture[str], tenant: Tenant
) -> None:
    fields = issue_plain(capsys, "--workspace", tenant.workspace, "--scope", STATUS)
    assert fields["accessToken"] != fields["tokenId"]
    assert fields.get("scope") == STATUS
    assert fields.get("expiresIn") == "86400"


# --- list --------------------------------------------------------------------------------------


async def test_list_never_shows_tokens(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, settings: Settings
) -> None:
    plain = issue_plain(capsys, "--workspace", tenant.workspace, "--scope", STATUS)
    from_json = issue_json(capsys, "--workspace", tenant.workspace)["accessToken"]
    async with app_client(settings) as client:
        response = await client.post(
            "/oauth2/token",
            content=b"grant_type=client_credentials",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=tenant.auth,
        )
        assert response.status_code == 200, response.text
        from_endpoint = response.json()["access_token"]
    out = ok(capsys, "tokens", "list", "--workspace", tenant.workspace)
    lines = out.splitlines()
    assert len(lines) == 3, out
    for token in (plain["accessToken"], from_json, from_endpoint):
        assert token not in out
        assert token[-16:] not in out
    ids = [line.split("\t")[0] for line in lines]
    assert all(TOKEN_ID.fullmatch(token_id) for token_id in ids), lines
    assert plain["tokenId"] in ids
    assert all("active" in line for line in lines), lines
    assert STATUS in lines[ids.index(plain["tokenId"])]
    # Revoked tokens are listed as revoked, still without the token.
    ok(capsys, "tokens", "revoke", plain["tokenId"])
    out = ok(capsys, "tokens", "list", "--workspace", tenant.workspace)
    [line] = [line for line in out.splitlines() if line.startswith(plain["tokenId"])]
    assert "revoked" in line, line
    assert plain["accessToken"] not in out


def test_list_shows_only_the_workspaces_tokens(
    capsys: pytest.CaptureFixture[str], tenant: Tenant
) -> None:
    ok(capsys, "workspaces", "create", "globex")
    theirs = issue_plain(capsys, "--workspace", "globex")
    ours = issue_plain(capsys, "--workspace", tenant.workspace)
    out = ok(capsys, "tokens", "list", "--workspace", tenant.workspace)
    assert ours["tokenId"] in out
    assert theirs["tokenId"] not in out
    assert ok(capsys, "tokens", "list", "--workspace", "globex").count("\n") == 1


# --- revoke ------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["id", "token"])
async def test_revoke_stops_the_token(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, settings: Settings, by: str
) -> None:
    target = issue_plain(capsys, "--workspace", tenant.workspace)
    bystander = issue_json(capsys, "--workspace", tenant.workspace)["accessToken"]
    token = target["accessToken"]
    async with app_client(dataclasses.replace(settings, auth_cache_seconds=0.2)) as client:
        first = await status(client, tenant, token)
        assert first.status_code == 200, first.text
        name = target["tokenId"] if by == "id" else token
        out = ok(capsys, "tokens", "revoke", name)
        assert out.strip() == "revoked"
        assert token not in out
        await asyncio.sleep(0.4)
        assert_invalid_token(await status(client, tenant, token))
        # Only that one.
        other = await status(client, tenant, bystander)
        assert other.status_code == 200, other.text
    # A second revocation has nothing to do, and says so.
    again = run_cli(capsys, "tokens", "revoke", name)
    line = assert_one_line_error(again, "no active token")
    assert token not in line


# --- bad arguments -----------------------------------------------------------------------------

BAD_ISSUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "unknown-scope": (("--workspace", "acme", "--scope", "api:meetings:user:admin"), ("scope",)),
    "unknown-among-known": (("--workspace", "acme", "--scope", f"{CREATE} admin"), ("admin",)),
    "ttl-zero": (("--workspace", "acme", "--ttl", "0"), ()),
    "ttl-negative": (("--workspace", "acme", "--ttl", "-5"), ()),
    "ttl-too-long": (("--workspace", "acme", "--ttl", str(366 * 86_400 + 1)), ()),
    "ttl-not-a-number": (("--workspace", "acme", "--ttl", "soon"), ("ttl",)),
    "unknown-workspace": (("--workspace", "nope"), ("nope",)),
    "missing-workspace": ((), ("workspace",)),
}


@pytest.mark.parametrize("case", BAD_ISSUES)
def test_bad_issue_arguments_give_one_error_line(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, database_url: str, case: str
) -> None:
    args, fragments = BAD_ISSUES[case]
    for extra in ((), ("--json",)):
        result = run_cli(capsys, "tokens", "issue", *args, *extra)
        assert_one_line_error(result, *fragments)
    assert token_count(database_url) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("tokens", "revoke", "tok_0123456789abcdef"),
        ("tokens", "revoke", "gmt_" + "A" * 43),
        ("tokens", "list", "--workspace", "nope"),
    ],
)
def test_bad_revoke_and_list_arguments_give_one_error_line(
    capsys: pytest.CaptureFixture[str], tenant: Tenant, args: tuple[str, ...]
) -> None:
    assert_one_line_error(run_cli(capsys, *args))
