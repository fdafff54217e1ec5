"""The access log: one record per request, with the route template, path, status, duration,
request id and authenticated workspace as fields; never credentials, tokens or bodies. Unhandled
errors are logged with their traceback under the request id; `serve` writes JSON lines unless
stderr is a terminal (tests/system/test_observability_live.py checks a real server's output)."""

import base64
import io
import json
import logging
import logging.config
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from gong_meetings import logs
from gong_meetings.storage import meetings as meeting_storage
from tests.helpers import Tenant, assert_error, assert_request_id, meeting_body
from tests.ratelimits import SQLITE_ONLY


async def test_each_request_is_logged_with_its_request_id(
    client, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gong_meetings.access")
    created = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    missing = await client.get("/v2/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "gong_meetings.access"]
    for response, expected in (
        (created, "POST /v2/meetings 201"),
        (missing, "GET /v2/nowhere 404"),
    ):
        request_id = assert_request_id(response)
        assert any(expected in line and f"request_id={request_id}" in line for line in lines), lines


# ---------------------------------------------------------------------------------------------
# Structured fields, no secrets, unhandled errors, and the log format

ACCESS = "gong_meetings.access"
FIELDS = {"requestId", "workspace", "method", "route", "path", "status", "durationMs"}
MEETING_ROUTE = "/v2/meetings/{meetingId}"
# A line's message: "METHOD PATH STATUS N.Nms request_id=ID workspace=NAME" ("-" for none).
MESSAGE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms"
    r" request_id=(?P<request_id>[a-z0-9]{19}) workspace=(?P<workspace>\S+)"
)
# Logger state that applying logs.log_config changes, to be put back after a test applies it.
CONFIGURED_LOGGERS = ("uvicorn", "gong_meetings", "alembic")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the `gong_meetings` loggers at INFO and above, whether or not they
    propagate to the root logger."""
    logger = logging.getLogger("gong_meetings")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def json_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """logs.log_config("json") applied as `serve` applies it, with stderr a StringIO; the
    loggers it configures are put back afterwards."""
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled)
        for name in CONFIGURED_LOGGERS
        for lg in [logging.getLogger(name)]
    }
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logging.config.dictConfig(logs.log_config("json"))
    # dictConfig replaces the loggers' handlers: keep capturing for `server_records`.
    for handler in saved["gong_meetings"][0]:
        if isinstance(handler, _Records):
            logging.getLogger("gong_meetings").addHandler(handler)
    try:
        yield stream
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            lg = logging.getLogger(name)
            for handler in lg.handlers:
                if handler not in handlers:
                    handler.close()
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled


def access_record(records: list[logging.LogRecord], response: httpx.Response) -> logging.LogRecord:
    """The one access-log record of the request that got `response`."""
    request_id = assert_request_id(response)
    found = [r for r in records if r.name == ACCESS and r.__dict__.get("requestId") == request_id]
    assert len(found) == 1, [r.getMessage() for r in records]
    return found[0]


def fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: record.__dict__[name] for name in FIELDS}


def assert_access_line(
    record: logging.LogRecord,
    response: httpx.Response,
    *,
    method: str,
    route: str,
    path: str,
    workspace: str | None,
) -> None:
    request_id = assert_request_id(response)
    assert record.levelno == logging.INFO
    values = fields(record)
    duration = values.pop("durationMs")
    assert values == {
        "requestId": request_id,
        "workspace": workspace,
        "method": method,
        "route": route,
        "path": path,
        "status": response.status_code,
    }
    assert isinstance(duration, float) and duration >= 0, duration
    message = MESSAGE.fullmatch(record.getMessage())
    assert message, record.getMessage()
    assert message.group("method", "path", "status", "request_id", "workspace") == (
        method,
        path,
        str(response.status_code),
        request_id,
        workspace or "-",
    )


@SQLITE_ONLY
async def test_access_records_carry_the_route_template_path_status_and_workspace(
    client: httpx.AsyncClient, tenant: Tenant, server_records: list[logging.LogRecord]
) -> None:
    created = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    meeting_id = created.json()["meetingId"]
    path = f"/v2/meetings/{meeting_id}"
    read = await client.get(path, auth=tenant.auth)
    missing = await client.get("/v2/meetings/1234567890123456789", auth=tenant.auth)
    refused = await client.get(path, auth=(tenant.auth[0], "wrong secret"))
    health = await client.get("/healthz")
    unknown = await client.get("/v2/nowhere")
    token = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=tenant.auth
    )
    for response, status in (
        (created, 201),
        (read, 200),
        (missing, 404),
        (refused, 401),
        (health, 200),
        (unknown, 404),
        (token, 200),
    ):
        assert response.status_code == status, response.text

    cases = [
        (created, "POST", "/v2/meetings", "/v2/meetings", "acme"),
        (read, "GET", MEETING_ROUTE, path, "acme"),
        (missing, "GET", MEETING_ROUTE, "/v2/meetings/1234567890123456789", "acme"),
        # Not authenticated: no workspace, though the key is the workspace's.
        (refused, "GET", MEETING_ROUTE, path, None),
        (health, "GET", "/healthz", "/healthz", None),
        (unknown, "GET", "unmatched", "/v2/nowhere", None),
        (token, "POST", "/oauth2/token", "/oauth2/token", "acme"),
    ]
    for response, method, route, logged_path, workspace in cases:
        assert_access_line(
            access_record(server_records, response),
            response,
            method=method,
            route=route,
            path=logged_path,
            workspace=workspace,
        )
    # One line per request, and no more.
    assert len([r for r in server_records if r.name == ACCESS]) == len(cases)


@SQLITE_ONLY
async def test_a_bearer_callers_workspace_is_logged(
    client: httpx.AsyncClient, tenant: Tenant, server_records: list[logging.LogRecord]
) -> None:
    token = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=tenant.auth
    )
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    listed = await client.get("/v2/meetings", headers=bearer)
    assert listed.status_code == 200, listed.text
    assert access_record(server_records, listed).__dict__["workspace"] == "acme"


SECRET_MARKER = "SeCrEt-9f3b7d"
BODY_MARKER = "BoDy-4c2e8a"


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@SQLITE_ONLY
async def test_no_credentials_tokens_or_bodies_reach_the_logs(
    client: httpx.AsyncClient,
    tenant: Tenant,
    server_records: list[logging.LogRecord],
    json_stderr: io.StringIO,
) -> None:
    token = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=tenant.auth
    )
    access_token = token.json()["access_token"]
    bearer = {"Authorization": f"Bearer {access_token}"}
    wrong_basic = (tenant.auth[0], SECRET_MARKER)
    responses = [
        token,
        # A recognisable secret in Basic credentials, refused and in a token request.
        await client.get("/v2/meetings", auth=wrong_basic),
        await client.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, auth=wrong_basic
        ),
        await client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_secret": SECRET_MARKER},
        ),
        # A bearer token, accepted and in a body.
        await client.post(
            "/v2/meetings",
            json=meeting_body(tenant.organizer, title=BODY_MARKER, description=access_token),
            headers=bearer,
        ),
        # A body marker in a request that fails validation, whose error names the field.
        await client.post(
            "/v2/meetings",
            json=meeting_body(tenant.organizer, organizerEmail=f"{BODY_MARKER}-not-an-email"),
            auth=tenant.auth,
        ),
        await client.post(
            "/v2/meetings/integration-status",
            json={"userEmail": tenant.organizer, "meetingProvider": BODY_MARKER},
            auth=tenant.auth,
        ),
    ]
    assert [r.status_code for r in responses] == [200, 401, 401, 401, 201, 400, 400], [
        r.text for r in responses
    ]
    secrets = [
        SECRET_MARKER,
        BODY_MARKER,
        access_token,
        tenant.auth[1],  # the real secret, sent as Basic for the token
        base64.b64encode(f"{tenant.auth[0]}:{tenant.auth[1]}".encode()).decode(),
        base64.b64encode(f"{wrong_basic[0]}:{wrong_basic[1]}".encode()).decode(),
    ]
    for response in responses:
        access_record(server_records, response)  # each was logged
    for record in server_records:
        text = " ".join([record.getMessage(), *(repr(v) for v in record.__dict__.values())])
        assert not _leaks(text, secrets), (record.getMessage(), _leaks(text, secrets))
    # The JSON lines that `serve` writes, the same records formatted.
    output = json_stderr.getvalue()
    lines = output.splitlines()
    assert len(lines) >= len(responses), output
    for line in lines:
        json.loads(line)
    assert not _leaks(output, secrets), _leaks(output, secrets)


@SQLITE_ONLY
async def test_json_lines_have_the_common_keys_and_the_access_fields(
    client: httpx.AsyncClient, tenant: Tenant, json_stderr: io.StringIO
) -> None:
    response = await client.get("/v2/meetings", auth=tenant.auth)
    assert response.status_code == 200, response.text
    request_id = assert_request_id(response)
    lines = [json.loads(line) for line in json_stderr.getvalue().splitlines()]
    ours = [line for line in lines if line.get("requestId") == request_id]
    assert len(ours) == 1, lines
    line = ours[0]
    assert {"level", "logger", "message", "time"} | FIELDS <= set(line), line
    duration = line.pop("durationMs")
    assert isinstance(duration, float) and duration >= 0
    assert datetime.fromisoformat(line.pop("time")).tzinfo is not None
    message = line.pop("message")
    assert message.startswith("GET /v2/meetings 200 ") and request_id in message, message
    assert line == {
        "level": "INFO",
        "logger": ACCESS,
        "requestId": request_id,
        "workspace": "acme",
        "method": "GET",
        "route": "/v2/meetings",
        "path": "/v2/meetings",
        "status": 200,
    }


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError(f"unexpected failure {SECRET_MARKER}")


@SQLITE_ONLY
async def test_an_unhandled_error_is_logged_with_its_traceback_and_request_id(
    client: httpx.AsyncClient,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    server_records: list[logging.LogRecord],
    json_stderr: io.StringIO,
) -> None:
    monkeypatch.setattr(meeting_storage, "insert_meetings", _boom)
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    assert_error(response, 500)
    request_id = assert_request_id(response)
    for leak in ("Traceback", "RuntimeError", SECRET_MARKER, "insert_meeting"):
        assert leak not in response.text, leak

    errors = [r for r in server_records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in server_records]
    error = errors[0]
    assert (error.name, error.levelno) == ("gong_meetings.server", logging.ERROR)
    assert error.__dict__["requestId"] == request_id
    assert error.exc_info and isinstance(error.exc_info[1], RuntimeError)
    # The access line says 500, under the same id.
    access = access_record(server_records, response)
    assert access.__dict__["status"] == 500

    lines = [json.loads(line) for line in json_stderr.getvalue().splitlines()]
    logged = [line for line in lines if line["level"] == "ERROR"]
    assert len(logged) == 1, lines
    assert logged[0]["logger"] == "gong_meetings.server"
    assert logged[0]["requestId"] == request_id
    traceback = logged[0]["exc_info"]
    assert traceback.startswith("Traceback (most recent call last):"), traceback
    assert "_boom" in traceback and f"RuntimeError: unexpected failure {SECRET_MARKER}" in traceback


# ---------------------------------------------------------------------------------------------
# writes_json and log_config


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_writes_json_unless_the_stream_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert logs.writes_json("auto", _Terminal()) is False
    assert logs.writes_json("auto", io.StringIO()) is True
    # Without a stream, stderr decides.
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert logs.writes_json("auto") is False
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert logs.writes_json("auto") is True


@pytest.mark.parametrize("stream", [_Terminal(), io.StringIO(), None])
def test_json_and_text_are_what_they_say_wherever_the_output_goes(
    stream: io.StringIO | None,
) -> None:
    assert logs.writes_json("json", stream) is True
    assert logs.writes_json("text", stream) is False


def test_log_config_formats_by_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    def formatter(log_format: str) -> dict[str, Any]:
        config = logs.log_config(log_format)
        assert config["loggers"]["gong_meetings"]["level"] == "INFO"
        assert config["handlers"]["default"]["stream"] == "ext://sys.stderr"
        return dict(config["formatters"]["default"])

    assert formatter("json") == logs.JSON_FORMATTER
    assert formatter("text") == logs.TEXT_FORMATTER
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert formatter("auto") == logs.TEXT_FORMATTER
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert formatter("auto") == logs.JSON_FORMATTER


def test_the_text_format_writes_the_access_message_not_json() -> None:
    config = logs.log_config("text")
    configurator = logging.config.DictConfigurator(config)
    text_formatter = configurator.configure_formatter(configurator.config["formatters"]["default"])
    record = logging.LogRecord(
        ACCESS,
        logging.INFO,
        __file__,
        1,
        "GET /healthz 200 0.4ms request_id=x workspace=-",
        (),
        None,
    )
    line = text_formatter.format(record)
    assert line.endswith(
        " INFO gong_meetings.access: GET /healthz 200 0.4ms request_id=x workspace=-"
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
