"""What the sync and async clients share, with no I/O: settings, the requests each method
sends, how answers are read, and when and how long to wait before a retry."""

import os
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import msgspec

from gong_meetings.client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    error_class,
)
from gong_meetings.wire import (
    CreateMeetingRequest,
    ErrorResponse,
    IntegrationStatusRequest,
    MeetingAttendee,
    UpdateMeetingRequest,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
# A 429 or 503 asking for a longer wait than this is raised at once rather than slept through.
DEFAULT_RETRY_AFTER_CAP = 60.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of connection errors, timeouts, 429 and 5xx: exponential backoff with jitter,
    or the server's Retry-After on 429 and 503 when it is within `retry_after_cap`."""

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP
    random: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, retries_done: int) -> float:
        """Between half and all of min(max_delay, initial_delay * 2**retries_done)."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0**retries_done)
        return ceiling * (0.5 + self.random() / 2)

    def delay_after(self, retries_done: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next try, or None to stop. `response` is None when the
        call got no answer (a connection error or a timeout)."""
        if retries_done >= self.max_retries:
            return None
        if response is None:
            return self.backoff(retries_done)
        status = response.status_code
        if status != 429 and status < 500:
            return None
        if status in (429, 503):
            asked = parse_retry_after(response.headers.get("retry-after"))
            if asked is not None:
                return None if asked > self.retry_after_cap else asked
        return self.backoff(retries_done)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: whole seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str
    auth: httpx.Auth | None
    headers: Mapping[str, str]


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._header
        yield request


def settings(
    base_url: str | None,
    access_key: str | None,
    access_key_secret: str | None,
    bearer_token: str | None,
) -> Settings:
    """The arguments, each falling back to its environment variable. Credentials given as
    arguments win over any in the environment; Basic wins over a bearer token from the same
    place."""
    base_url = base_url or os.environ.get("GONG_MEETINGS_BASE_URL")
    if not base_url:
        raise ValueError("give base_url, or set GONG_MEETINGS_BASE_URL")
    if bearer_token and not (access_key and access_key_secret):
        auth: httpx.Auth | None = _Bearer(bearer_token)
    else:
        auth = _auth(
            access_key or os.environ.get("GONG_ACCESS_KEY"),
            access_key_secret or os.environ.get("GONG_ACCESS_KEY_SECRET"),
            os.environ.get("GONG_BEARER_TOKEN"),
        )
    return Settings(base_url.rstrip("/"), auth, {"User-Agent": "gong-meetings-python"})


def _auth(key: str | None, secret: str | None, token: str | None) -> httpx.Auth | None:
    if key and secret:
        return httpx.BasicAuth(key, secret)
    return _Bearer(token) if token else None


@dataclass(frozen=True, slots=True)
class Call:
    """One request a method sends, the same on every try."""

    method: str
    path: str
    json: bytes | None = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("give date-times with a time zone, such as datetime(..., tzinfo=UTC)")
    return value.isoformat()


def _given(**values: Any) -> dict[str, Any]:
    """The arguments the caller gave (None means not given), in the wire's spelling."""
    return {name: value for name, value in values.items() if value is not None}


def create_call(
    *,
    title: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
    organizer_email: str,
    meeting_url: str | None,
    attendees: list[MeetingAttendee] | None,
    description: str | None,
    meeting_provider: str | None,
    external_meeting_id: str | None,
    idempotency_key: str | None,
) -> Call:
    request = CreateMeetingRequest(
        title=title,
        scheduled_start=_instant(scheduled_start),
        scheduled_end=_instant(scheduled_end),
        organizer_email=organizer_email,
        **_given(
            meeting_url=meeting_url,
            attendees=attendees,
            description=description,
            meeting_provider=meeting_provider,
            external_meeting_id=external_meeting_id,
        ),
    )
    # One key for every try of this create, so a retry never makes a second meeting.
    key = idempotency_key or str(uuid.uuid4())
    return Call(
        "POST", "/v2/meetings", msgspec.json.encode(request), None, {"Idempotency-Key": key}
    )


def update_call(
    meeting_id: str,
    *,
    title: str | None,
    scheduled_start: datetime | None,
    scheduled_end: datetime | None,
    meeting_url: str | None,
    attendees: list[MeetingAttendee] | None,
    description: str | None,
    if_match: str | None,
) -> Call:
    request = UpdateMeetingRequest(
        **_given(
            title=title,
            scheduled_start=None if scheduled_start is None else _instant(scheduled_start),
            scheduled_end=None if scheduled_end is None else _instant(scheduled_end),
            meeting_url=meeting_url,
            attendees=attendees,
            description=description,
        )
    )
    headers = {} if if_match is None else {"If-Match": if_match}
    return Call("PUT", f"/v2/meetings/{meeting_id}", msgspec.json.encode(request), None, headers)


def delete_call(meeting_id: str, if_match: str | None) -> Call:
    headers = {} if if_match is None else {"If-Match": if_match}
    return Call("DELETE", f"/v2/meetings/{meeting_id}", headers=headers)


def get_call(meeting_id: str) -> Call:
    return Call("GET", f"/v2/meetings/{meeting_id}")


def list_call(params: Mapping[str, str], cursor: str | None) -> Call:
    """A page of the list: the first (no cursor) or the one after `cursor`."""
    return Call(
        "GET", "/v2/meetings", params=dict(params, **({"cursor": cursor} if cursor else {}))
    )


def status_call(user_email: str | None, meeting_provider: str | None) -> Call:
    request = IntegrationStatusRequest(
        **_given(user_email=user_email, meeting_provider=meeting_provider)
    )
    return Call("POST", "/v2/meetings/integration-status", msgspec.json.encode(request))


def list_params(
    from_date_time: datetime | None,
    to_date_time: datetime | None,
    organizer_email: str | None,
    attendee_email: str | None,
    page_size: int | None,
) -> dict[str, str]:
    return _given(
        fromDateTime=None if from_date_time is None else _instant(from_date_time),
        toDateTime=None if to_date_time is None else _instant(to_date_time),
        organizerEmail=organizer_email,
        attendeeEmail=attendee_email,
        limit=None if page_size is None else str(page_size),
    )


def request(client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
    headers = {"Content-Type": "application/json"} if call.json is not None else {}
    return client.build_request(
        call.method,
        call.path,
        content=call.json,
        params=call.params,
        headers={**headers, **call.headers},
    )


def read(response: httpx.Response, shape: type[T]) -> T:
    """The answer as `shape`, or the typed error its status stands for."""
    if response.status_code >= 400:
        raise api_error(response)
    try:
        return msgspec.json.decode(response.content, type=shape)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise APIError(
            f"{response.status_code}: not a gong-meetings answer ({error}); is the base URL right?",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
        ) from None


def api_error(response: httpx.Response) -> Exception:
    request_id = response.headers.get("x-request-id")
    try:
        body = msgspec.json.decode(response.content, type=ErrorResponse)
        request_id, errors = body.request_id, body.errors
    except msgspec.DecodeError:
        # Not our envelope (another server's page, say): its text, on one line.
        errors = [" ".join(response.text.split())[:500] or response.reason_phrase]
    kind = error_class(response.status_code)
    message = f"{response.status_code}: {'; '.join(errors)}"
    return kind(
        message,
        status_code=response.status_code,
        request_id=request_id,
        errors=errors,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def transport_error(error: httpx.TransportError) -> Exception:
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"no answer in time: {error!r}")
    return APIConnectionError(f"could not reach the server: {error!r}")
