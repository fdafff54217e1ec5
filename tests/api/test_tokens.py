"""Bearer tokens: the OAuth 2.0 token endpoint, Gong's scopes on every operation, and lifetimes.

Everything runs in-process on both databases. Scope names are written out here rather than
imported, so a renamed constant in the server fails these tests instead of following along.
"""

import asyncio
import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from gong_meetings.config import Settings
from gong_meetings.errors import Missing
from gong_meetings.service.accounts import AccountService
from gong_meetings.service.tokens import TokenService
from gong_meetings.storage.database import Database
from gong_meetings.storage.tables import tokens
from tests.helpers import (
    REQUEST_ID,
    Tenant,
    app_client,
    assert_error,
    assert_insufficient_scope,
    assert_request_id,
    connect,
    create_meeting,
    make_tenant,
    stored_meetings,
)
from tests.helpers import (
    call_operation as call,
)

TOKEN_URL = "/oauth2/token"
FORM = "application/x-www-form-urlencoded"
CREATE = "api:meetings:user:create"
UPDATE = "api:meetings:user:update"
DELETE = "api:meetings:user:delete"
STATUS = "api:meetings:integration:status"
READ = "api:meetings:user:read"  # an addition, for GET
ALL_SCOPES = frozenset({CREATE, UPDATE, DELETE, STATUS, READ})
DEFAULT_TTL = 86_400

OPERATIONS = ("create", "update", "delete", "status")
SCOPE_OF = {"create": CREATE, "update": UPDATE, "delete": DELETE, "status": STATUS}
SUCCESS = {"create": 201, "update": 200, "delete": 200, "status": 200}


# --- helpers -----------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic_header(access_key: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{access_key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def post_token(
    client: httpx.AsyncClient,
    form: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """POST /oauth2/token with a form body (or raw `content`), optionally with Basic `auth`."""
    sent = dict(headers or {})
    if auth is not None:
        sent.update(basic_header(*auth))
    if content is None:
        pairs = list(form.items()) if isinstance(form, dict) else list(form or [])
        content = urlencode(pairs).encode()
        sent.setdefault("Content-Type", FORM)
    return await client.post(TOKEN_URL, content=content, headers=sent)


def assert_token_response(
    response: httpx.Response, scopes: frozenset[str], expires_in: int = DEFAULT_TTL
) -> str:
    """RFC 6749 section 5.1, exactly: the four fields, not cached; returns the token."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get("cache-control") == "no-store", response.headers
    assert REQUEST_ID.match(response.headers.get("x-request-id", "")), response.headers
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}, body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == expires_in
    assert isinstance(body["scope"], str)
    assert set(body["scope"].split(" ")) == scopes, body["scope"]
    token = body["access_token"]
    assert isinstance(token, str) and len(token) >= 32, token
    return token


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 section 5.2: {error, error_description}, not the meetings envelope."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get("cache-control") == "no-store", response.headers
    assert_request_id(response)
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    if status == 401:
        challenge = response.headers.get("www-authenticate", "")
        assert challenge.startswith("Basic "), challenge
    return body


async def fetch_token(
    client: httpx.AsyncClient, auth: tuple[str, str], scope: str | None = None
) -> str:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    response = await post_token(client, form, auth=auth)
    expected = ALL_SCOPES if scope is None else frozenset(scope.split())
    return assert_token_response(response, expected)


def stored_tokens(database_url: str) -> list[Any]:
    with connect(database_url) as connection:
        return list(connection.execute(select(tokens)))


def token_count(database_url: str) -> int:
    with connect(database_url) as connection:
        return int(connection.execute(select(func.count()).select_from(tokens)).scalar_one())


def assert_invalid_token(response: httpx.Response) -> None:
    assert_error(response, 401)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer "), challenge
    assert 'error="invalid_token"' in challenge, challenge


@pytest.fixture
def token_service(database_url: str, accounts: AccountService) -> Iterator[TokenService]:
    """The service behind `gong-meetings tokens`, on its own handle to the test database."""
    database = Database(database_url)
    yield TokenService(database, DEFAULT_TTL)
    database.close()


@pytest.fixture
def other(accounts: AccountService) -> Tenant:
    return make_tenant(accounts, "globex")


@pytest.fixture
async def meeting_id(client: httpx.AsyncClient, tenant: Tenant) -> str:
    body = await create_meeting(client, tenant)
    found: str = body["meetingId"]
    return found


# --- the token endpoint ------------------------------------------------------------------------


async def test_basic_client_credentials_get_a_token_with_all_five_scopes(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    response = await post_token(client, {"grant_type": "client_credentials"}, auth=tenant.auth)
    token = assert_token_response(response, ALL_SCOPES)
    assert response.headers.get("pragma", "no-cache") == "no-cache"
    # It is a bearer token for acme: it works, and it is stored (as a digest) for acme's key.
    works = await call(client, "status", tenant, "", headers=bearer(token))
    assert works.status_code == 200, works.text
    [row] = stored_tokens(database_url)
    assert row.access_key == tenant.auth[0]
    assert set(row.scope.split()) == ALL_SCOPES


async def test_form_client_credentials_get_a_token(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    access_key, secret = tenant.auth
    form = {"grant_type": "client_credentials", "client_id": access_key, "client_secret": secret}
    token = assert_token_response(await post_token(client, form), ALL_SCOPES)
    created = await call(client, "create", tenant, "", headers=bearer(token))
    assert created.status_code == 201, created.text


async def test_a_form_with_a_charset_parameter_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Several OAuth libraries send `application/x-www-form-urlencoded;charset=UTF-8`."""
    response = await post_token(
        client,
        {"grant_type": "client_credentials"},
        auth=tenant.auth,
        headers={"Content-Type": f"{FORM};charset=UTF-8"},
    )
    assert_token_response(response, ALL_SCOPES)


async def test_empty_scope_gives_all_five(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post_token(
        client, {"grant_type": "client_credentials", "scope": ""}, auth=tenant.auth
    )
    assert_token_response(response, ALL_SCOPES)


@pytest.mark.parametrize(
    "asked",
    [
        STATUS,
        CREATE,
        f"{UPDATE} {DELETE}",
        f"{CREATE} {UPDATE} {DELETE}",
        f"{STATUS} {CREATE} {UPDATE} {DELETE}",
    ],
)
async def test_a_subset_of_scopes_is_granted_as_asked(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, asked: str
) -> None:
    granted = frozenset(asked.split())
    token = await fetch_token(client, tenant.auth, asked)
    [row] = stored_tokens(database_url)
    assert set(row.scope.split()) == granted
    # And only those: each operation works exactly when its scope was granted.
    meeting = (await create_meeting(client, tenant))["meetingId"]
    for operation in ("status", "update", "create", "delete"):
        response = await call(client, operation, tenant, meeting, headers=bearer(token))
        if SCOPE_OF[operation] in granted:
            assert response.status_code == SUCCESS[operation], (operation, response.text)
        else:
            assert_insufficient_scope(response, SCOPE_OF[operation])


async def test_every_fetch_is_a_new_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    tokens_seen = {await fetch_token(client, tenant.auth) for _ in range(3)}
    assert len(tokens_seen) == 3
    assert not any(tenant.auth[1] in token for token in tokens_seen)


# Each failure: (how to build the request, expected status, expected error).
GRANT = {"grant_type": "client_credentials"}


def _wrong_secret_basic(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": GRANT, "auth": (t.auth[0], t.auth[1][:-1] + "x")}


def _wrong_secret_form(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {**GRANT, "client_id": t.auth[0], "client_secret": "wrong"}}


def _unknown_key(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": GRANT, "auth": ("A" * 32, t.auth[1])}


def _unknown_key_form(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {**GRANT, "client_id": "A" * 32, "client_secret": t.auth[1]}}


def _revoked_key(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": GRANT, "auth": r}


def _revoked_key_form(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {**GRANT, "client_id": r[0], "client_secret": r[1]}}


def _missing_credentials(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": GRANT}


def _client_id_without_secret(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {**GRANT, "client_id": t.auth[0]}}


def _bearer_instead_of_basic(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": GRANT, "headers": {"Authorization": f"Bearer {t.auth[1]}"}}


def _missing_grant_type(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {"scope": STATUS}, "auth": t.auth}


def _empty_body(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {}, "auth": t.auth}


def _json_body(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {
        "content": json.dumps(GRANT).encode(),
        "headers": {"Content-Type": "application/json"},
        "auth": t.auth,
    }


def _json_body_with_form_credentials(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    body = {**GRANT, "client_id": t.auth[0], "client_secret": t.auth[1]}
    return {"content": json.dumps(body).encode(), "headers": {"Content-Type": "application/json"}}


def _repeated_grant_type(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {
        "form": [("grant_type", "client_credentials"), ("grant_type", "client_credentials")],
        "auth": t.auth,
    }


def _repeated_scope(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {
        "form": [("grant_type", "client_credentials"), ("scope", STATUS), ("scope", CREATE)],
        "auth": t.auth,
    }


def _both_ways(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {
        "form": {**GRANT, "client_id": t.auth[0], "client_secret": t.auth[1]},
        "auth": t.auth,
    }


def _password_grant(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {"grant_type": "password", "username": "a", "password": "b"}, "auth": t.auth}


def _authorization_code_grant(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {"grant_type": "authorization_code", "code": "x"}, "auth": t.auth}


def _unknown_scope(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {**GRANT, "scope": "api:meetings:user:admin"}, "auth": t.auth}


def _one_unknown_among_known(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    return {"form": {**GRANT, "scope": f"{CREATE} admin {STATUS}"}, "auth": t.auth}


def _unknown_scope_form_credentials(t: Tenant, r: tuple[str, str]) -> dict[str, Any]:
    form = {**GRANT, "scope": "nope", "client_id": t.auth[0], "client_secret": t.auth[1]}
    return {"form": form}


TOKEN_FAILURES = {
    "wrong-secret-basic": (_wrong_secret_basic, 401, "invalid_client"),
    "wrong-secret-form": (_wrong_secret_form, 401, "invalid_client"),
    "unknown-key-basic": (_unknown_key, 401, "invalid_client"),
    "unknown-key-form": (_unknown_key_form, 401, "invalid_client"),
    "revoked-key-basic": (_revoked_key, 401, "invalid_client"),
    "revoked-key-form": (_revoked_key_form, 401, "invalid_client"),
    "missing-credentials": (_missing_credentials, 401, "invalid_client"),
    "client-id-without-secret": (_client_id_without_secret, 401, "invalid_client"),
    "bearer-instead-of-basic": (_bearer_instead_of_basic, 401, "invalid_client"),
    "missing-grant-type": (_missing_grant_type, 400, "invalid_request"),
    "empty-body": (_empty_body, 400, "invalid_request"),
    "json-body": (_json_body, 400, "invalid_request"),
    "json-body-form-credentials": (_json_body_with_form_credentials, 400, "invalid_request"),
    "repeated-grant-type": (_repeated_grant_type, 400, "invalid_request"),
    "repeated-scope": (_repeated_scope, 400, "invalid_request"),
    "credentials-both-ways": (_both_ways, 400, "invalid_request"),
    "password-grant": (_password_grant, 400, "unsupported_grant_type"),
    "authorization-code-grant": (_authorization_code_grant, 400, "unsupported_grant_type"),
    "unknown-scope": (_unknown_scope, 400, "invalid_scope"),
    "unknown-among-known-scopes": (_one_unknown_among_known, 400, "invalid_scope"),
    "unknown-scope-form-credentials": (_unknown_scope_form_credentials, 400, "invalid_scope"),
}


@pytest.mark.parametrize("failure", TOKEN_FAILURES)
async def test_token_endpoint_errors_follow_rfc_6749(
    client: httpx.AsyncClient,
    tenant: Tenant,
    accounts: AccountService,
    database_url: str,
    failure: str,
) -> None:
    revoked = accounts.create_key(tenant.workspace)
    accounts.revoke_key(revoked.access_key)
    build, status, error = TOKEN_FAILURES[failure]
    request = build(tenant, (revoked.access_key, revoked.access_key_secret))
    response = await post_token(client, **request)
    body = assert_oauth_error(response, status, error)
    # Not the meetings envelope, and no secret repeated back.
    assert "errors" not in body and "requestId" not in body
    for secret in (tenant.auth[1], revoked.access_key_secret):
        assert secret not in response.text
    # No token was issued.
    assert token_count(database_url) == 0


async def test_the_scope_error_names_the_unknown_scope(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    form = {"grant_type": "client_credentials", "scope": f"{CREATE} api:meetings:user:admin"}
    body = assert_oauth_error(
        await post_token(client, form, auth=tenant.auth), 400, "invalid_scope"
    )
    assert "api:meetings:user:admin" in body["error_description"]


async def test_the_token_endpoint_is_not_under_v2_and_only_takes_post(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    got = await client.get(TOKEN_URL, auth=tenant.auth)
    assert got.status_code == 405
    assert "POST" in got.headers.get("allow", "")
    missing = await client.post(
        "/v2/oauth2/token",
        content=b"grant_type=client_credentials",
        headers={"Content-Type": FORM},
        auth=tenant.auth,
    )
    assert missing.status_code == 404


# --- using tokens ------------------------------------------------------------------------------


async def test_a_full_scope_token_can_do_everything(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    headers = bearer(await fetch_token(client, tenant.auth))
    created = await call(client, "create", tenant, "", headers=headers)
    assert created.status_code == 201, created.text
    meeting_id = created.json()["meetingId"]
    assert created.json()["meeting"]["organizerEmail"] == tenant.organizer
    updated = await call(client, "update", tenant, meeting_id, headers=headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["meeting"]["title"] == "Renamed"
    # The token acts in acme: acme's Basic key sees the same meeting.
    seen = await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)
    assert seen.json()["meeting"]["title"] == "Renamed"
    status = await call(client, "status", tenant, "", headers=headers)
    assert status.status_code == 200, status.text
    assert isinstance(status.json()["isIntegrated"], bool)
    deleted = await call(client, "delete", tenant, meeting_id, headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert stored_meetings(database_url) == []
    gone = await call(client, "delete", tenant, meeting_id, headers=headers)
    assert_error(gone, 404)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_each_operation_without_its_scope_is_403_and_changes_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting_id: str,
    database_url: str,
    operation: str,
) -> None:
    needed = SCOPE_OF[operation]
    others = " ".join(sorted(ALL_SCOPES - {needed}))
    token = await fetch_token(client, tenant.auth, others)
    before = stored_meetings(database_url)
    response = await call(client, operation, tenant, meeting_id, headers=bearer(token))
    assert_insufficient_scope(response, needed)
    assert stored_meetings(database_url) == before
    # The meeting is untouched (not renamed, not deleted).
    check = await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)
    assert check.status_code == 200
    assert check.json()["meeting"]["title"] == "Quarterly review"
    # The scope is checked before the body: an empty body still gets the 403, not a 400.
    if operation != "delete":
        path = {
            "create": "/v2/meetings",
            "update": f"/v2/meetings/{meeting_id}",
            "status": "/v2/meetings/integration-status",
        }[operation]
        method = "PUT" if operation == "update" else "POST"
        bare = await client.request(method, path, headers=bearer(token))
        assert_insufficient_scope(bare, needed)


async def test_a_status_only_token_checks_integrations_and_nothing_else(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, database_url: str
) -> None:
    headers = bearer(await fetch_token(client, tenant.auth, STATUS))
    status = await call(client, "status", tenant, "", headers=headers)
    assert status.status_code == 200, status.text
    assert set(status.json()) >= {"requestId", "isIntegrated", "status"}
    before = stored_meetings(database_url)
    assert_insufficient_scope(await call(client, "create", tenant, "", headers=headers), CREATE)
    for operation in ("update", "delete"):
        response = await call(client, operation, tenant, meeting_id, headers=headers)
        assert_insufficient_scope(response, SCOPE_OF[operation])
    assert stored_meetings(database_url) == before


async def test_basic_credentials_keep_full_access(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    # A narrow token exists for this very key; the key itself is not narrowed.
    await fetch_token(client, tenant.auth, STATUS)
    for operation in ("create", "update", "status", "delete"):
        response = await call(client, operation, tenant, meeting_id, auth=tenant.auth)
        assert response.status_code == SUCCESS[operation], (operation, response.text)


async def test_a_token_is_scoped_to_its_workspace(
    client: httpx.AsyncClient, tenant: Tenant, other: Tenant, database_url: str
) -> None:
    theirs = (await create_meeting(client, other))["meetingId"]
    token = await fetch_token(client, tenant.auth)
    before = stored_meetings(database_url)
    for operation in ("update", "delete"):
        response = await call(client, operation, tenant, theirs, headers=bearer(token))
        assert_error(response, 404)
    assert stored_meetings(database_url) == before
    # globex's organizer is not acme's, so acme's token cannot create a meeting for them.
    response = await call(client, "create", other, "", headers=bearer(token))
    assert response.status_code != 201, response.text
    assert stored_meetings(database_url) == before
    # And globex's own token can.
    own = await fetch_token(client, other.auth)
    renamed = await call(client, "update", other, theirs, headers=bearer(own))
    assert renamed.status_code == 200, renamed.text


@pytest.mark.parametrize(
    "token",
    [
        "gmt_" + "A" * 43,
        "tok_0123456789abcdef",
        "not-a-token",
    ],
)
async def test_an_unknown_token_is_401_invalid_token(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, database_url: str, token: str
) -> None:
    before = stored_meetings(database_url)
    for operation in OPERATIONS:
        response = await call(client, operation, tenant, meeting_id, headers=bearer(token))
        assert_invalid_token(response)
    assert stored_meetings(database_url) == before


async def test_a_key_secret_is_not_a_bearer_token(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await call(client, "status", tenant, "", headers=bearer(tenant.auth[1]))
    assert_invalid_token(response)


# --- lifetime ----------------------------------------------------------------------------------


def _database_files(database_url: str) -> list[Path]:
    path = Path(database_url.removeprefix("sqlite:///"))
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


async def test_only_a_digest_of_each_token_is_stored(
    client: httpx.AsyncClient, tenant: Tenant, token_service: TokenService, database_url: str
) -> None:
    from_endpoint = await fetch_token(client, tenant.auth)
    from_admin = token_service.issue(tenant.workspace, ALL_SCOPES, None).access_token
    issued = [from_endpoint, from_admin]
    for token in issued:
        response = await call(client, "status", tenant, "", headers=bearer(token))
        assert response.status_code == 200, response.text
    rows = stored_tokens(database_url)
    assert len(rows) == 2
    digests = {bytes(row.digest) for row in rows}
    for token in issued:
        assert hashlib.sha256(token.encode()).digest() in digests
        for row in rows:
            for value in row:
                if isinstance(value, bytes | bytearray | memoryview):
                    assert token.encode() not in bytes(value)
                assert token not in str(value)
                # Nor a large piece of it.
                assert token[-20:] not in str(value)
    if not database_url.startswith("sqlite"):
        return
    files = _database_files(database_url)
    assert files
    for path in files:
        data = path.read_bytes()
        for token in issued:
            assert token.encode() not in data, path


async def test_the_default_lifetime_is_a_day_and_is_stored(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    assert Settings().token_ttl_seconds == DEFAULT_TTL
    response = await post_token(client, {"grant_type": "client_credentials"}, auth=tenant.auth)
    assert_token_response(response, ALL_SCOPES, DEFAULT_TTL)
    [row] = stored_tokens(database_url)
    lifetime = (row.expires_at - row.created_at).total_seconds()
    assert abs(lifetime - DEFAULT_TTL) < 5, lifetime


async def test_the_lifetime_is_configurable_from_the_environment(
    tenant: Tenant, database_url: str
) -> None:
    settings = Settings.from_env(
        {"GONG_MEETINGS_DATABASE_URL": database_url, "GONG_MEETINGS_TOKEN_TTL_SECONDS": "120"}
    )
    assert settings.token_ttl_seconds == 120
    async with app_client(settings) as client:
        response = await post_token(client, {"grant_type": "client_credentials"}, auth=tenant.auth)
        assert_token_response(response, ALL_SCOPES, 120)


async def test_an_expired_token_from_the_endpoint_is_401(
    tenant: Tenant, settings: Settings, meeting_id: str, database_url: str
) -> None:
    short = dataclasses.replace(settings, token_ttl_seconds=1)
    async with app_client(short) as client:
        response = await post_token(client, {"grant_type": "client_credentials"}, auth=tenant.auth)
        token = assert_token_response(response, ALL_SCOPES, expires_in=1)
        fresh = await call(client, "status", tenant, "", headers=bearer(token))
        assert fresh.status_code == 200, fresh.text
        await asyncio.sleep(1.3)
        before = stored_meetings(database_url)
        for operation in OPERATIONS:
            expired = await call(client, operation, tenant, meeting_id, headers=bearer(token))
            assert_invalid_token(expired)
        assert stored_meetings(database_url) == before
        # The key still gets a new one.
        again = await post_token(client, {"grant_type": "client_credentials"}, auth=tenant.auth)
        renewed = assert_token_response(again, ALL_SCOPES, expires_in=1)
        assert renewed != token
        works = await call(client, "status", tenant, "", headers=bearer(renewed))
        assert works.status_code == 200, works.text


async def test_an_expired_admin_token_is_401(
    client: httpx.AsyncClient, tenant: Tenant, token_service: TokenService
) -> None:
    issued = token_service.issue(tenant.workspace, ALL_SCOPES, 1)
    assert issued.expires_in == 1
    fresh = await call(client, "status", tenant, "", headers=bearer(issued.access_token))
    assert fresh.status_code == 200, fresh.text
    await asyncio.sleep(1.3)
    expired = await call(client, "status", tenant, "", headers=bearer(issued.access_token))
    assert_invalid_token(expired)


@pytest.mark.parametrize("by", ["id", "token"])
@pytest.mark.parametrize("source", ["endpoint", "admin"])
async def test_a_revoked_token_is_401_within_the_cache_ttl(
    tenant: Tenant,
    settings: Settings,
    token_service: TokenService,
    meeting_id: str,
    database_url: str,
    by: str,
    source: str,
) -> None:
    async with app_client(dataclasses.replace(settings, auth_cache_seconds=0.2)) as client:
        if source == "endpoint":
            token = await fetch_token(client, tenant.auth)
            [listed] = token_service.list(tenant.workspace)
            token_id = listed.token_id
        else:
            issued = token_service.issue(tenant.workspace, ALL_SCOPES, None)
            token, token_id = issued.access_token, issued.token_id
        bystander = await fetch_token(client, tenant.auth)
        # Used once, so the server has it cached when it is revoked.
        first = await call(client, "status", tenant, "", headers=bearer(token))
        assert first.status_code == 200, first.text
        token_service.revoke(token_id if by == "id" else token)
        await asyncio.sleep(0.4)
        before = stored_meetings(database_url)
        for operation in OPERATIONS:
            response = await call(client, operation, tenant, meeting_id, headers=bearer(token))
            assert_invalid_token(response)
        assert stored_meetings(database_url) == before
        # Only that token: another one from the same key still works.
        other = await call(client, "status", tenant, "", headers=bearer(bystander))
        assert other.status_code == 200, other.text
    [revoked] = [t for t in token_service.list(tenant.workspace) if t.token_id == token_id]
    assert revoked.revoked_at is not None


async def test_revoking_a_token_twice_or_an_unknown_one_says_so(
    tenant: Tenant, token_service: TokenService
) -> None:
    issued = token_service.issue(tenant.workspace, ALL_SCOPES, None)
    token_service.revoke(issued.token_id)
    with pytest.raises(Missing):
        token_service.revoke(issued.token_id)
    with pytest.raises(Missing):
        token_service.revoke(issued.access_token)
    with pytest.raises(Missing):
        token_service.revoke("gmt_unknown")


async def test_revoking_the_key_revokes_the_tokens_it_obtained(
    tenant: Tenant,
    settings: Settings,
    accounts: AccountService,
    token_service: TokenService,
    meeting_id: str,
) -> None:
    key = accounts.create_key(tenant.workspace)
    auth = (key.access_key, key.access_key_secret)
    async with app_client(dataclasses.replace(settings, auth_cache_seconds=0.2)) as client:
        doomed = await fetch_token(client, auth)
        narrow = await fetch_token(client, auth, STATUS)
        kept = await fetch_token(client, tenant.auth)
        admin = token_service.issue(tenant.workspace, ALL_SCOPES, None).access_token
        for token in (doomed, narrow, kept, admin):
            response = await call(client, "status", tenant, "", headers=bearer(token))
            assert response.status_code == 200, response.text
        accounts.revoke_key(key.access_key)
        await asyncio.sleep(0.4)
        for token in (doomed, narrow):
            for operation in OPERATIONS:
                response = await call(client, operation, tenant, meeting_id, headers=bearer(token))
                assert_invalid_token(response)
        # Tokens of the workspace's other key, and admin tokens, are not touched.
        for token in (kept, admin):
            response = await call(client, "status", tenant, "", headers=bearer(token))
            assert response.status_code == 200, response.text
        # And the revoked key cannot get a new one.
        again = await post_token(client, {"grant_type": "client_credentials"}, auth=auth)
        assert_oauth_error(again, 401, "invalid_client")


# --- the served contract -----------------------------------------------------------------------

SEED_OPERATIONS = {
    ("/meetings", "post"): CREATE,
    ("/meetings/{meetingId}", "put"): UPDATE,
    ("/meetings/{meetingId}", "delete"): DELETE,
    ("/meetings/integration-status", "post"): STATUS,
}


async def _served(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _oauth2_schemes(document: dict[str, Any]) -> dict[str, Any]:
    schemes = document["components"]["securitySchemes"]
    return {name: s for name, s in schemes.items() if s.get("type") == "oauth2"}


async def test_openapi_documents_the_token_endpoint(client: httpx.AsyncClient) -> None:
    document = await _served(client)
    paths = document["paths"]
    assert "/oauth2/token" in paths, sorted(paths)
    item = paths["/oauth2/token"]
    operation = item["post"]
    # The API's servers put every path under /v2; this one must be served from the root.
    servers = item.get("servers") or operation.get("servers")
    assert servers and all(not s["url"].rstrip("/").endswith("/v2") for s in servers), servers
    content = operation["requestBody"]["content"]
    assert FORM in content, content
    responses = operation["responses"]
    assert {"200", "400", "401"} <= set(responses), sorted(responses)
    assert "Cache-Control" in responses["200"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]


async def test_openapi_documents_the_oauth2_scheme_with_the_four_scopes(
    client: httpx.AsyncClient,
) -> None:
    document = await _served(client)
    schemes = document["components"]["securitySchemes"]
    # The contract's bearerAuth stays as it was, beside the new scheme.
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["basicAuth"]["scheme"] == "basic"
    oauth2 = _oauth2_schemes(document)
    assert len(oauth2) == 1, schemes
    [scheme] = oauth2.values()
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"].endswith("/oauth2/token"), flow
    assert set(flow["scopes"]) == ALL_SCOPES
    assert all(isinstance(text, str) and text for text in flow["scopes"].values())


@pytest.mark.parametrize("path, method", SEED_OPERATIONS)
async def test_openapi_documents_403_and_the_scope_of_each_seed_operation(
    client: httpx.AsyncClient, path: str, method: str
) -> None:
    document = await _served(client)
    operation = document["paths"][path][method]
    responses = operation["responses"]
    assert "403" in responses, (path, method, sorted(responses))
    forbidden = responses["403"]
    assert "WWW-Authenticate" in forbidden["headers"]
    assert "X-Request-Id" in forbidden["headers"]
    assert "application/json" in forbidden["content"]
    [name] = _oauth2_schemes(document)
    required = [
        requirement[name] for requirement in operation.get("security", []) if name in requirement
    ]
    assert required == [[SEED_OPERATIONS[path, method]]], operation.get("security")
    # Basic and the contract's bearerAuth are still accepted there.
    names = {n for requirement in operation["security"] for n in requirement}
    assert {"basicAuth", "bearerAuth"} <= names
