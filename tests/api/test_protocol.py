"""HTTP behaviour shared by every operation: request ids, routing errors, body limits, media
types and 500s that reveal nothing."""

import base64
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.types import Message

from gong_meetings.config import DEFAULT_MAX_BODY_BYTES, Settings
from gong_meetings.storage import accounts as account_storage
from gong_meetings.storage import meetings as meeting_storage
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    assert_request_id,
    create_meeting,
    http_client,
    meeting_body,
    running_app,
)

MiB = 1024 * 1024
CHUNK = 64 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
async def meeting_id(client: httpx.AsyncClient, tenant: Tenant) -> str:
    body = await create_meeting(client, tenant)
    meeting_id: str = body["meetingId"]
    return meeting_id


def request_for(target: str, tenant: Tenant, meeting_id: str) -> tuple[str, str, dict[str, Any]]:
    """Method, path and a valid body for one of the three operations that take a body."""
    if target == "create":
        return "POST", "/v2/meetings", meeting_body(tenant.organizer)
    if target == "update":
        return "PUT", f"/v2/meetings/{meeting_id}", {"title": "Renamed"}
    return "POST", "/v2/meetings/integration-status", {"userEmail": tenant.organizer}


BODY_TARGETS = ("create", "update", "status")
SUCCESS = {"create": 201, "update": 200, "status": 200}


def padded(body: dict[str, Any], size: int) -> bytes:
    """The body as JSON, padded with trailing whitespace (still valid JSON) to `size` bytes."""
    encoded = httpx.Request("POST", "http://x", json=body).content
    assert len(encoded) <= size
    return encoded + b" " * (size - len(encoded))


class CountingBody:
    """An async request body of `total` bytes in fixed chunks, counting what was consumed."""

    def __init__(self, total: int, chunk: int = CHUNK, prefix: bytes = b'{"title": "') -> None:
        self.total = total
        self.chunk = chunk
        self.prefix = prefix
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            size = min(self.chunk, self.total - sent)
            data = (self.prefix + b"x" * size)[:size] if sent == 0 else b"x" * size
            self.consumed += 1
            sent += size
            yield data


# ---------------------------------------------------------------------------------------------
# X-Request-Id on every response.

Call = Callable[[httpx.AsyncClient, Tenant, str], Awaitable[httpx.Response]]


async def _created(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.post("/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth)


async def _updated(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)


async def _deleted(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth)


async def _status(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.post(
        "/v2/meetings/integration-status", json={"meetingProvider": "zoom"}, auth=tenant.auth
    )


async def _bad(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.post("/v2/meetings", json={"title": 1}, auth=tenant.auth)


async def _anonymous(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.post("/v2/meetings", json=meeting_body(tenant.organizer))


async def _no_route(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.get("/v2/no-such-thing")


async def _no_meeting(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.delete("/v2/meetings/1234567890123456789", auth=tenant.auth)


async def _bad_method(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.patch(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)


async def _too_large(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.post(
        "/v2/meetings", content=b" " * (MiB + 1), headers=JSON_HEADERS, auth=tenant.auth
    )


async def _not_json(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.post(
        "/v2/meetings",
        content=b"title=x",
        headers={"Content-Type": "text/plain"},
        auth=tenant.auth,
    )


async def _contract(client: httpx.AsyncClient, tenant: Tenant, meeting_id: str) -> httpx.Response:
    return await client.get("/openapi.json")


RESPONSES: dict[str, tuple[Call, int]] = {
    "create-201": (_created, 201),
    "update-200": (_updated, 200),
    "delete-200": (_deleted, 200),
    "integration-status-200": (_status, 200),
    "bad-request-400": (_bad, 400),
    "unauthorized-401": (_anonymous, 401),
    "unknown-route-404": (_no_route, 404),
    "missing-meeting-404": (_no_meeting, 404),
    "method-not-allowed-405": (_bad_method, 405),
    "too-large-413": (_too_large, 413),
    "unsupported-media-type-415": (_not_json, 415),
}


@pytest.mark.parametrize("case", RESPONSES)
async def test_every_response_has_a_request_id_matching_the_body(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, case: str
) -> None:
    call, status = RESPONSES[case]
    response = await call(client, tenant, meeting_id)
    assert response.status_code == status, response.text
    header = assert_request_id(response)
    body = response.json()
    assert body["requestId"] == header
    if status >= 400:
        assert_error(response, status)


async def test_responses_without_a_request_id_field_still_have_the_header(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    response = await _contract(client, tenant, meeting_id)
    assert response.status_code == 200
    assert_request_id(response)


async def test_request_ids_are_distinct(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> None:
    seen = []
    for _ in range(5):
        for call, _status in RESPONSES.values():
            if call is _deleted:
                continue
            response = await call(client, tenant, meeting_id)
            header = assert_request_id(response)
            assert response.json()["requestId"] == header
            seen.append(header)
    assert len(seen) == 50
    assert len(set(seen)) == len(seen)


async def test_a_client_supplied_request_id_is_not_echoed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The server mints the id; a caller cannot inject one into responses or logs."""
    chosen = "aaaaaaaaaaaaaaaaaaa"
    response = await client.post(
        "/v2/meetings",
        json=meeting_body(tenant.organizer),
        auth=tenant.auth,
        headers={"X-Request-Id": chosen},
    )
    assert response.status_code == 201
    assert response.headers.get_list("x-request-id") == [response.json()["requestId"]]
    assert response.json()["requestId"] != chosen


# ---------------------------------------------------------------------------------------------
# Routing: unknown routes are 404 and unknown methods 405 with `Allow`, all in the envelope.


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v2"),
        ("POST", "/v2/meeting"),
        ("POST", "/v1/meetings"),
        ("POST", "/meetings"),
        ("POST", "/v2/meetings/"),
        ("PUT", "/v2/meetings/123/attendees"),
        ("POST", "/v2/meetings/integration-status/extra"),
        ("DELETE", "/v2/meetings/1/2"),
        ("GET", "/v2/" + "x" * 5_000),
    ],
)
async def test_unknown_route_is_404_envelope(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str
) -> None:
    response = await client.request(method, path, json={}, auth=tenant.auth)
    errors = assert_error(response, 404)
    assert len(" ".join(errors)) < 1_000, "the echoed path is bounded"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/v2/meetings", {"GET", "HEAD", "POST"}),
        ("PUT", "/v2/meetings", {"GET", "HEAD", "POST"}),
        ("DELETE", "/v2/meetings", {"GET", "HEAD", "POST"}),
        ("GET", "/v2/meetings/integration-status", {"POST"}),
        ("PATCH", "/v2/meetings/integration-status", {"POST"}),
        ("PATCH", "/v2/meetings/{id}", {"GET", "HEAD", "PUT", "DELETE"}),
        ("POST", "/v2/meetings/{id}", {"GET", "HEAD", "PUT", "DELETE"}),
    ],
)
async def test_unsupported_method_is_405_with_allow(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting_id: str,
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    response = await client.request(
        method, path.format(id=meeting_id), json={"title": "x"}, auth=tenant.auth
    )
    errors = assert_error(response, 405, method)
    allow = {m.strip() for m in response.headers["allow"].split(",")}
    assert allow == allowed
    assert all(m in " ".join(errors) for m in allowed)
    # The meeting was neither changed nor deleted by the refused method.
    unchanged = await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)
    assert unchanged.status_code == 200
    assert unchanged.json()["meeting"]["title"] == "Quarterly review"


async def test_405_does_not_need_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/meetings/integration-status")
    assert_error(response, 405)
    assert response.headers["allow"] == "POST"


# ---------------------------------------------------------------------------------------------
# 413: bodies over the limit, refused while reading.


@pytest.mark.parametrize("target", BODY_TARGETS)
async def test_body_over_1_mib_with_content_length_is_413(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, target: str
) -> None:
    assert MiB == DEFAULT_MAX_BODY_BYTES
    method, path, body = request_for(target, tenant, meeting_id)
    content = padded(body, MiB + 1)
    response = await client.request(
        method, path, content=content, headers=JSON_HEADERS, auth=tenant.auth
    )
    assert response.request.headers["content-length"] == str(MiB + 1)
    assert_error(response, 413, "body")


@pytest.mark.parametrize("target", BODY_TARGETS)
async def test_body_of_exactly_1_mib_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, target: str
) -> None:
    method, path, body = request_for(target, tenant, meeting_id)
    response = await client.request(
        method, path, content=padded(body, MiB), headers=JSON_HEADERS, auth=tenant.auth
    )
    assert response.status_code == SUCCESS[target], response.text


@pytest.mark.parametrize("target", BODY_TARGETS)
async def test_streamed_body_over_the_limit_is_413_and_not_read_whole(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, target: str
) -> None:
    method, path, _ = request_for(target, tenant, meeting_id)
    body = CountingBody(64 * MiB)
    response = await client.request(
        method, path, content=body, headers=JSON_HEADERS, auth=tenant.auth
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "body")
    # It read just past the limit (so the limit was what stopped it), and no further.
    assert body.consumed * CHUNK > MiB
    assert body.consumed <= MiB // CHUNK + 4, body.consumed


@pytest.mark.parametrize("target", BODY_TARGETS)
async def test_declared_length_over_the_limit_is_413_without_reading_the_body(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, target: str
) -> None:
    method, path, _ = request_for(target, tenant, meeting_id)
    body = CountingBody(64 * MiB)
    response = await client.request(
        method,
        path,
        content=body,
        headers={**JSON_HEADERS, "Content-Length": str(64 * MiB)},
        auth=tenant.auth,
    )
    assert_error(response, 413, "body")
    assert body.consumed <= MiB // CHUNK + 4, body.consumed


async def test_streamed_body_under_the_limit_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    content = padded(meeting_body(tenant.organizer, title="Streamed"), 300 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 1000):
            yield content[start : start + 1000]

    response = await client.post(
        "/v2/meetings", content=chunks(), headers=JSON_HEADERS, auth=tenant.auth
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert response.json()["meeting"]["title"] == "Streamed"


async def test_a_smaller_configured_limit_is_honoured(
    tenant: Tenant, database_url: str, meeting_id: str
) -> None:
    limit = 400
    settings = Settings.from_env(
        {
            "GONG_MEETINGS_DATABASE_URL": database_url,
            "GONG_MEETINGS_MAX_BODY_BYTES": str(limit),
        }
    )
    assert settings.max_body_bytes == limit
    async with app_client(settings) as client:
        body = meeting_body(tenant.organizer)
        exact = await client.post(
            "/v2/meetings", content=padded(body, limit), headers=JSON_HEADERS, auth=tenant.auth
        )
        assert exact.status_code == 201, exact.text
        over = await client.post(
            "/v2/meetings", content=padded(body, limit + 1), headers=JSON_HEADERS, auth=tenant.auth
        )
        assert_error(over, 413, "body")
        streamed = CountingBody(10 * MiB, chunk=100)
        response = await client.put(
            f"/v2/meetings/{meeting_id}", content=streamed, headers=JSON_HEADERS, auth=tenant.auth
        )
        assert_error(response, 413, "body")
        assert streamed.consumed * 100 > limit
        assert streamed.consumed <= limit // 100 + 3, streamed.consumed


async def test_a_larger_configured_limit_is_honoured(tenant: Tenant, settings: Settings) -> None:
    async with app_client(dataclasses.replace(settings, max_body_bytes=2 * MiB)) as client:
        body = meeting_body(tenant.organizer)
        response = await client.post(
            "/v2/meetings", content=padded(body, MiB + 1), headers=JSON_HEADERS, auth=tenant.auth
        )
        assert response.status_code == 201, response.text
        over = await client.post(
            "/v2/meetings",
            content=padded(body, 2 * MiB + 1),
            headers=JSON_HEADERS,
            auth=tenant.auth,
        )
        assert_error(over, 413, "body")


# ---------------------------------------------------------------------------------------------
# 415: JSON only.


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "text/json",
        "application/jsonp",
        None,
    ],
)
@pytest.mark.parametrize("target", BODY_TARGETS)
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting_id: str,
    database_url: str,
    target: str,
    content_type: str | None,
) -> None:
    method, path, body = request_for(target, tenant, meeting_id)
    headers = {} if content_type is None else {"Content-Type": content_type}
    content = httpx.Request("POST", "http://x", json=body).content
    response = await client.request(
        method, path, content=content, headers=headers, auth=tenant.auth
    )
    if content_type is None:
        assert "content-type" not in response.request.headers
    assert_error(response, 415, "Content-Type")
    # Nothing was changed.
    check = await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)
    assert check.json()["meeting"]["title"] == "Quarterly review"


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"],
)
@pytest.mark.parametrize("target", BODY_TARGETS)
async def test_json_with_parameters_or_any_case_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, target: str, content_type: str
) -> None:
    method, path, body = request_for(target, tenant, meeting_id)
    content = httpx.Request("POST", "http://x", json=body).content
    response = await client.request(
        method, path, content=content, headers={"Content-Type": content_type}, auth=tenant.auth
    )
    assert response.status_code == SUCCESS[target], response.text


# ---------------------------------------------------------------------------------------------
# 500: the envelope and the request id, and nothing of the internals.


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("secret internals: SELECT * FROM api_keys")


FAILING_STORAGE = {
    "create": (meeting_storage, "insert_meetings"),
    "update": (meeting_storage, "replace_meeting"),
    "delete": (meeting_storage, "delete_meeting"),
    "status": (account_storage, "list_integrations"),
}
CALLS: dict[str, Call] = {
    "create": _created,
    "update": lambda c, t, m: c.put(f"/v2/meetings/{m}", json={"title": "New"}, auth=t.auth),
    "delete": _deleted,
    "status": _status,
}


@pytest.mark.parametrize("operation", FAILING_STORAGE)
async def test_unexpected_failure_is_500_envelope_without_internals(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting_id: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    operation: str,
) -> None:
    module, name = FAILING_STORAGE[operation]
    monkeypatch.setattr(module, name, _boom)
    with caplog.at_level(logging.ERROR):
        response = await CALLS[operation](client, tenant, meeting_id)
    errors = assert_error(response, 500)
    request_id = response.json()["requestId"]
    for leak in ("secret internals", "Traceback", "RuntimeError", "SELECT", name, "api_keys"):
        assert leak not in response.text, leak
        assert not any(leak in value for value in response.headers.values()), leak
    assert any(request_id in e for e in errors), "the message tells the caller what to quote"
    # The operator can find the failure by the id the caller quotes.
    assert any(
        request_id in record.getMessage() and record.exc_info for record in caplog.records
    ), caplog.records


async def test_server_keeps_working_after_a_500(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(meeting_storage, "insert_meetings", _boom)
        failed = await _created(client, tenant, "")
        assert failed.status_code == 500
    response = await _created(client, tenant, "")
    assert response.status_code == 201, response.text


async def test_a_client_that_hangs_up_mid_body_gets_a_400_and_nothing_is_stored(
    settings: Settings, tenant: Tenant
) -> None:
    """The body comes in ASGI messages; an http.disconnect before the last one is a 400
    (logged as the client's doing, not a 5xx), and no meeting is made of the part received."""
    body = json.dumps(meeting_body(tenant.organizer)).encode()
    messages: list[Message] = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    credentials = base64.b64encode(":".join(tenant.auth).encode())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v2/meetings",
        "raw_path": b"/v2/meetings",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", b"Basic " + credentials),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 123),
        "server": ("testserver", 80),
    }
    async with running_app(settings) as app:
        await app(scope, receive, send)
        assert sent[0]["status"] == 400
        answer = json.loads(sent[1]["body"])
        assert answer["errors"] == ["body: the client closed the connection before sending it all"]
        async with http_client(app) as client:
            listed = await client.get("/v2/meetings", auth=tenant.auth)
    assert listed.json()["records"]["totalRecords"] == 0
