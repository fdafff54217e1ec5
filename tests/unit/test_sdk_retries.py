"""The SDK's retry rules, over httpx's mock transport: what is retried, how often, how long it
waits (sleeps are recorded, not slept), Retry-After in both forms, and one idempotency key."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gong_meetings import (
    APIConnectionError,
    APITimeoutError,
    BadRequest,
    Client,
    NotFound,
    RateLimited,
    ServerError,
)
from gong_meetings.client import sync
from gong_meetings.client.core import RetryPolicy, parse_retry_after

START = datetime(2030, 1, 15, 10, tzinfo=UTC)
MEETING = {
    "id": "42",
    "title": "Kickoff",
    "scheduledStart": "2030-01-15T10:00:00Z",
    "scheduledEnd": "2030-01-15T11:00:00Z",
    "organizerEmail": "o@x.io",
    "meetingUrl": "https://x.io/42",
    "attendees": [],
}
CREATED = {"requestId": "r" * 19, "meetingId": "42", "meeting": MEETING}


def error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"requestId": "e" * 19, "errors": [f"status {status}"]}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers each request with the next of `answers` (a response or an exception)."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(sync.time, "sleep", slept.append)
    return slept


def client(script: Callable[[httpx.Request], httpx.Response], **options: object) -> Client:
    return Client(
        "http://gm.test",
        access_key="k",
        access_key_secret="s",
        transport=httpx.MockTransport(script),
        **options,  # type: ignore[arg-type]
    )


def create(gm: Client, **extra: object) -> object:
    return gm.create_meeting(
        title="Kickoff",
        scheduled_start=START,
        scheduled_end=START + timedelta(hours=1),
        organizer_email="o@x.io",
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "failure",
    [
        error(500),
        error(502),
        error(503),
        error(429),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["500", "502", "503", "429", "connect", "timeout"],
)
def test_a_retryable_failure_is_retried_and_the_key_is_the_same_each_time(
    failure: httpx.Response | Exception, sleeps: list[float]
) -> None:
    script = Script(failure, failure, httpx.Response(201, json=CREATED))
    with client(script) as gm:
        meeting = create(gm)
    assert meeting.id == "42"  # type: ignore[attr-defined]
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1, keys
    assert len(sleeps) == 2


def test_at_most_two_retries_by_default_then_the_typed_error(sleeps: list[float]) -> None:
    script = Script(error(500), error(500), error(500), error(500))
    with client(script) as gm, pytest.raises(ServerError) as raised:
        create(gm)
    assert len(script.requests) == 3
    assert raised.value.status_code == 500 and raised.value.request_id == "e" * 19
    assert raised.value.errors == ["status 500"]
    assert "status 500" in str(raised.value) and "e" * 19 in str(raised.value)


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ReadTimeout("x"), APITimeoutError),
    ],
)
def test_no_answer_at_all_is_its_own_error(
    failure: Exception, kind: type[Exception], sleeps: list[float]
) -> None:
    with client(Script(failure, failure, failure)) as gm, pytest.raises(kind) as raised:
        gm.get_meeting("42")
    assert raised.value.status_code is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(("status", "kind"), [(400, BadRequest), (404, NotFound)])
def test_client_errors_are_not_retried(
    status: int, kind: type[Exception], sleeps: list[float]
) -> None:
    script = Script(error(status))
    with client(script) as gm, pytest.raises(kind):
        gm.get_meeting("42")
    assert len(script.requests) == 1 and sleeps == []


def test_the_caller_chooses_the_number_of_retries(sleeps: list[float]) -> None:
    script = Script(*[error(503)] * 6)
    with client(script, max_retries=5) as gm, pytest.raises(ServerError):
        gm.get_meeting("42")
    assert len(script.requests) == 6


def test_backoff_doubles_within_jittered_bounds_and_stops_at_the_ceiling() -> None:
    for draw in (0.0, 0.5, 0.999):
        policy = RetryPolicy(random=lambda draw=draw: draw)
        for retries, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
            delay = policy.backoff(retries)
            assert ceiling / 2 <= delay <= ceiling, (retries, delay)


def test_retry_after_is_honoured_in_seconds(sleeps: list[float]) -> None:
    script = Script(error(429, {"Retry-After": "3"}), httpx.Response(201, json=CREATED))
    with client(script) as gm:
        create(gm)
    assert sleeps == [3.0]


def test_retry_after_as_an_http_date_is_honoured(sleeps: list[float]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    script = Script(error(503, {"Retry-After": when}), httpx.Response(200, json=CREATED))
    with client(script) as gm:
        gm.update_meeting("42", title="x")
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_a_longer_retry_after_than_the_cap_is_raised_at_once(sleeps: list[float]) -> None:
    script = Script(error(429, {"Retry-After": "3600"}))
    with client(script, retry_after_cap=60) as gm, pytest.raises(RateLimited) as raised:
        create(gm)
    assert sleeps == [] and len(script.requests) == 1
    assert raised.value.retry_after == 3600


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("soon", None),
        ("-1", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds


def test_a_callers_idempotency_key_is_sent(sleeps: list[float]) -> None:
    script = Script(error(502), httpx.Response(201, json=CREATED))
    with client(script) as gm:
        create(gm, idempotency_key="my-key-1")
    assert [r.headers["idempotency-key"] for r in script.requests] == ["my-key-1"] * 2


def test_two_creates_send_two_keys(sleeps: list[float]) -> None:
    script = Script(httpx.Response(201, json=CREATED), httpx.Response(201, json=CREATED))
    with client(script) as gm:
        create(gm)
        create(gm)
    assert len({r.headers["idempotency-key"] for r in script.requests}) == 2


def test_the_request_is_the_contracts_json(sleeps: list[float]) -> None:
    script = Script(httpx.Response(201, json=CREATED))
    with client(script) as gm:
        create(gm, description="agenda")
    sent = script.requests[0]
    assert sent.url == "http://gm.test/v2/meetings"
    assert sent.headers["authorization"].startswith("Basic ")
    assert json.loads(sent.content) == {
        "title": "Kickoff",
        "scheduledStart": "2030-01-15T10:00:00+00:00",
        "scheduledEnd": "2030-01-15T11:00:00+00:00",
        "organizerEmail": "o@x.io",
        "description": "agenda",
    }
