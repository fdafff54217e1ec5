"""Basic authentication: every failure looks the same, changes nothing, and secrets stay secret."""

import asyncio
import base64
import dataclasses
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gong_meetings.config import Settings
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.tables import api_keys
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    create_meeting,
    make_tenant,
    stored_meetings,
)
from tests.helpers import (
    call_operation as call,
)

OPERATIONS = ("create", "update", "delete", "status")
SUCCESS = {"create": 201, "update": 200, "delete": 200, "status": 200}


def basic(raw: bytes) -> dict[str, bytes]:
    return {"Authorization": b"Basic " + base64.b64encode(raw)}


def credentials(access_key: str, secret: str) -> bytes:
    return f"{access_key}:{secret}".encode()


def assert_unauthorized(response: httpx.Response) -> list[str]:
    errors = assert_error(response, 401)
    challenge = response.headers.get("www-authenticate", "")
    sent = response.request.headers.get("authorization", "")
    if sent.lower().startswith("bearer ") and sent[7:].strip():
        # A bearer token was offered: RFC 6750 says which way it failed.
        assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, challenge
    else:
        assert challenge.startswith("Basic "), challenge
        assert "Bearer " in challenge, "both schemes are offered"
    return errors


@pytest.fixture
def other(accounts: AccountService) -> Tenant:
    """A second workspace, whose valid credentials must not mix with acme's."""
    return make_tenant(accounts, "globex")


@pytest.fixture
def revoked_key(accounts: AccountService, tenant: Tenant) -> tuple[str, str]:
    key = accounts.create_key(tenant.workspace)
    accounts.revoke_key(key.access_key)
    return key.access_key, key.access_key_secret


@pytest.fixture
async def meeting_id(client: httpx.AsyncClient, tenant: Tenant) -> str:
    body = await create_meeting(client, tenant)
    meeting_id: str = body["meetingId"]
    return meeting_id


Headers = Callable[[Tenant, Tenant, tuple[str, str]], dict[str, Any] | None]

FAILURES: dict[str, Headers] = {
    "missing-header": lambda t, o, r: None,
    "empty-header": lambda t, o, r: {"Authorization": ""},
    "scheme-only": lambda t, o, r: {"Authorization": "Basic"},
    "scheme-and-space": lambda t, o, r: {"Authorization": "Basic "},
    "malformed-base64": lambda t, o, r: {"Authorization": "Basic !!not*base64!!"},
    "base64-bad-padding": lambda t, o, r: {"Authorization": "Basic YWJjZA="},
    "base64-with-inner-space": lambda t, o, r: {
        "Authorization": "Basic "
        + base64.b64encode(credentials(*t.auth)).decode()[:8]
        + " "
        + base64.b64encode(credentials(*t.auth)).decode()[8:]
    },
    "no-colon": lambda t, o, r: basic((t.auth[0] + t.auth[1]).encode()),
    "empty-key": lambda t, o, r: basic(credentials("", t.auth[1])),
    "empty-secret": lambda t, o, r: basic(credentials(t.auth[0], "")),
    "colon-only": lambda t, o, r: basic(b":"),
    "empty-credentials": lambda t, o, r: basic(b""),
    "unknown-key": lambda t, o, r: basic(credentials("A" * 32, t.auth[1])),
    "wrong-secret": lambda t, o, r: basic(credentials(t.auth[0], "wrong-secret")),
    "secret-missing-last-char": lambda t, o, r: basic(credentials(t.auth[0], t.auth[1][:-1])),
    "secret-with-extra-char": lambda t, o, r: basic(credentials(t.auth[0], t.auth[1] + "x")),
    "secret-wrong-case": lambda t, o, r: basic(credentials(t.auth[0], t.auth[1].swapcase())),
    "key-wrong-case": lambda t, o, r: basic(credentials(t.auth[0].lower(), t.auth[1])),
    "other-workspaces-secret": lambda t, o, r: basic(credentials(t.auth[0], o.auth[1])),
    "swapped-key-and-secret": lambda t, o, r: basic(credentials(t.auth[1], t.auth[0])),
    "revoked-key": lambda t, o, r: basic(credentials(*r)),
    "bearer-scheme": lambda t, o, r: {"Authorization": "Bearer x"},
    "bearer-with-secret": lambda t, o, r: {"Authorization": f"Bearer {t.auth[1]}"},
    "digest-scheme": lambda t, o, r: {"Authorization": "Digest x"},
    "no-scheme": lambda t, o, r: {"Authorization": base64.b64encode(credentials(*t.auth)).decode()},
    "basic-without-space": lambda t, o, r: {
        "Authorization": "Basic" + base64.b64encode(credentials(*t.auth)).decode()
    },
    "plain-credentials": lambda t, o, r: {"Authorization": f"Basic {t.auth[0]}:{t.auth[1]}"},
    "decoded-not-utf8": lambda t, o, r: basic(b"\xff\xfe:\x80\x81"),
    "decoded-latin1-key": lambda t, o, r: basic(t.auth[0].encode() + b"\xe9:" + b"x"),
    "header-not-ascii": lambda t, o, r: {"Authorization": b"Basic \xe9\xe9\xe9\xe9"},
}


async def test_valid_credentials_work_on_every_operation(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    """The control for the failures below: the same calls succeed with the right key."""
    for operation in OPERATIONS:
        response = await call(client, operation, tenant, meeting_id, auth=tenant.auth)
        assert response.status_code == SUCCESS[operation], (operation, response.text)


async def test_scheme_is_case_insensitive(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    encoded = base64.b64encode(credentials(*tenant.auth)).decode()
    for scheme in ("basic", "BASIC", "bAsIc"):
        headers = {"Authorization": f"{scheme} {encoded}"}
        response = await call(client, "status", tenant, meeting_id, headers=headers)
        assert response.status_code == 200, (scheme, response.text)


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_every_authentication_failure_is_the_same_401(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other: Tenant,
    revoked_key: tuple[str, str],
    meeting_id: str,
    database_url: str,
    operation: str,
    failure: str,
) -> None:
    reference = assert_unauthorized(await call(client, operation, tenant, meeting_id))
    before = stored_meetings(database_url)
    headers = FAILURES[failure](tenant, other, revoked_key)
    response = await call(client, operation, tenant, meeting_id, headers=headers)
    errors = assert_unauthorized(response)
    assert errors == reference
    # Nothing names the credentials it was given.
    for secret in (*tenant.auth, *other.auth, *revoked_key):
        assert secret not in response.text
    # And nothing changed: no meeting created, renamed or deleted.
    assert stored_meetings(database_url) == before
    assert len(before) == 1


async def test_the_401_message_is_the_same_on_every_operation(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    messages = [
        assert_unauthorized(await call(client, operation, tenant, meeting_id))
        for operation in OPERATIONS
    ]
    assert all(m == messages[0] for m in messages), messages
    assert len(messages[0]) == 1


async def test_a_wrong_secret_does_not_change_the_meeting(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    wrong = (tenant.auth[0], tenant.auth[1][:-1] + ("A" if tenant.auth[1][-1] != "A" else "B"))
    put = await client.put(
        f"/v2/meetings/{meeting_id}",
        json={"title": "Hijacked", "scheduledEnd": "2031-01-01T00:00:00Z"},
        auth=wrong,
    )
    assert_unauthorized(put)
    deleted = await client.delete(f"/v2/meetings/{meeting_id}", auth=wrong)
    assert_unauthorized(deleted)
    response = await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)
    assert response.status_code == 200
    assert response.json()["meeting"]["title"] == "Quarterly review"
    assert response.json()["meeting"]["scheduledEnd"] == "2030-01-15T11:00:00Z"


async def test_auth_is_checked_before_the_body(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    """An anonymous caller learns nothing about validation: a bad body still gets 401."""
    for content, content_type in ((b"{not json", "application/json"), (b"x", "text/plain")):
        response = await client.post(
            "/v2/meetings", content=content, headers={"Content-Type": content_type}
        )
        assert_unauthorized(response)


# ---------------------------------------------------------------------------------------------
# Only a digest of each secret is stored.


def _database_files(database_url: str) -> list[Path]:
    path = Path(database_url.removeprefix("sqlite:///"))
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


async def test_only_a_digest_of_the_secret_is_stored(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, database_url: str
) -> None:
    # Use every key once, so nothing stored on a successful check escapes the scan below.
    second = accounts.create_key(tenant.workspace)
    keys = [tenant.auth, (second.access_key, second.access_key_secret)]
    for auth in keys:
        response = await call(client, "status", tenant, "", auth=auth)
        assert response.status_code == 200
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            rows = {row.access_key: row for row in connection.execute(select(api_keys))}
    finally:
        database.close()
    for access_key, secret in keys:
        assert len(secret) >= 43, "at least 32 random bytes"
        row = rows[access_key]
        for value in row:
            if isinstance(value, bytes | bytearray | memoryview):
                assert secret.encode() not in bytes(value)
            assert secret not in str(value)
        assert bytes(row.secret_digest) == hashlib.sha256(secret.encode()).digest()
    if not database.is_sqlite:
        return
    # Nowhere in the database files either (WAL included).
    files = _database_files(database_url)
    assert files
    for path in files:
        data = path.read_bytes()
        for _, secret in keys:
            assert secret.encode() not in data, path


# ---------------------------------------------------------------------------------------------
# Keys created or revoked while the server runs.


async def test_a_key_revoked_while_running_stops_within_the_cache_ttl(
    tenant: Tenant, accounts: AccountService, settings: Settings
) -> None:
    async with app_client(dataclasses.replace(settings, auth_cache_seconds=0.2)) as client:
        key = accounts.create_key(tenant.workspace)
        auth = (key.access_key, key.access_key_secret)
        first = await call(client, "status", tenant, "", auth=auth)
        assert first.status_code == 200, first.text
        accounts.revoke_key(key.access_key)
        await asyncio.sleep(0.3)
        assert_unauthorized(await call(client, "status", tenant, "", auth=auth))
        assert_unauthorized(await call(client, "create", tenant, "", auth=auth))
        # The workspace's other key is untouched.
        other = await call(client, "status", tenant, "", auth=tenant.auth)
        assert other.status_code == 200


async def test_with_the_default_cache_a_revoked_key_fails_soon_after(
    tenant: Tenant, accounts: AccountService, settings: Settings
) -> None:
    assert Settings().auth_cache_seconds <= 2.0
    async with app_client(dataclasses.replace(settings, auth_cache_seconds=2.0)) as client:
        key = accounts.create_key(tenant.workspace)
        auth = (key.access_key, key.access_key_secret)
        first = await call(client, "status", tenant, "", auth=auth)
        assert first.status_code == 200, first.text
        accounts.revoke_key(key.access_key)
        revoked_at = time.monotonic()
        while True:
            response = await call(client, "status", tenant, "", auth=auth)
            elapsed = time.monotonic() - revoked_at
            if response.status_code == 401:
                break
            assert response.status_code == 200, response.text
            assert elapsed < 2.5, "a revoked key still worked 2.5 s after revocation"
            await asyncio.sleep(0.1)
        assert_unauthorized(response)
        assert elapsed < 2.5
        # And it stays revoked.
        await asyncio.sleep(0.1)
        assert_unauthorized(await call(client, "status", tenant, "", auth=auth))


async def test_a_revoked_key_stops_within_the_bound_however_its_header_is_spelled(
    tenant: Tenant, accounts: AccountService, settings: Settings
) -> None:
    """Credentials that passed are remembered by their header, but never for longer than the
    key record read for them: a second spelling of the header, first seen while the record was
    cached, must not carry the key past the bound."""
    bound = 0.5
    async with app_client(dataclasses.replace(settings, auth_cache_seconds=bound)) as client:
        key = accounts.create_key(tenant.workspace)
        encoded = base64.b64encode(credentials(key.access_key, key.access_key_secret))
        spellings = [{"Authorization": scheme + encoded} for scheme in (b"Basic ", b"basic  ")]
        body = {"userEmail": tenant.organizer}
        path = "/v2/meetings/integration-status"
        assert (await client.post(path, json=body, headers=spellings[0])).status_code == 200
        read_at = time.monotonic()  # the key record was read from the database just now
        accounts.revoke_key(key.access_key)
        await asyncio.sleep(bound * 0.8)
        second = await client.post(path, json=body, headers=spellings[1])
        if time.monotonic() - read_at < bound:  # still within the cached record's life
            assert second.status_code == 200, second.text
        await asyncio.sleep(max(0.0, read_at + bound * 1.2 - time.monotonic()))
        for headers in spellings:
            assert_unauthorized(await client.post(path, json=body, headers=headers))


async def test_a_revoked_key_never_used_before_fails_at_once(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService
) -> None:
    key = accounts.create_key(tenant.workspace)
    accounts.revoke_key(key.access_key)
    response = await call(
        client, "status", tenant, "", auth=(key.access_key, key.access_key_secret)
    )
    assert_unauthorized(response)


async def test_a_key_created_while_running_works_at_once(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService
) -> None:
    key = accounts.create_key(tenant.workspace)
    auth = (key.access_key, key.access_key_secret)
    created = await call(client, "create", tenant, "", auth=auth)
    assert created.status_code == 201, created.text
    meeting_id = created.json()["meetingId"]
    for operation in ("update", "status", "delete"):
        response = await call(client, operation, tenant, meeting_id, auth=auth)
        assert response.status_code == SUCCESS[operation], (operation, response.text)


async def test_a_key_of_a_new_workspace_is_scoped_to_it(
    client: httpx.AsyncClient, tenant: Tenant, accounts: AccountService, meeting_id: str
) -> None:
    newcomer = make_tenant(accounts, "initech")
    created = await call(client, "create", newcomer, "", auth=newcomer.auth)
    assert created.status_code == 201, created.text
    # Valid credentials, but for another workspace: acme's meeting is not theirs.
    response = await call(client, "update", newcomer, meeting_id, auth=newcomer.auth)
    assert_error(response, 404)
