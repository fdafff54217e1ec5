"""Query parameters and headers of the additions, parsed with the contract's own syntax rules."""

import re
from urllib.parse import parse_qsl

from starlette.requests import Request

from gong_meetings.errors import BadRequest
from gong_meetings.service.meetings import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, parse_instant
from gong_meetings.service.syntax import is_email, normalize_email
from gong_meetings.storage.meetings import MeetingFilter
from gong_meetings.wire import DATETIME_PATTERN, python_pattern

_DATETIME = re.compile(python_pattern(DATETIME_PATTERN))
CURSOR_MAX = 2_048
IDEMPOTENCY_KEY_MAX = 255
# Printable ASCII: what fits in a header without encoding questions.
_IDEMPOTENCY_KEY = re.compile(rf"[\x20-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}")
_LIST_PARAMETERS = (
    "fromDateTime",
    "toDateTime",
    "organizerEmail",
    "attendeeEmail",
    "limit",
    "cursor",
)


def list_query(request: Request) -> tuple[MeetingFilter, int, str | None, list[str]]:
    """GET /v2/meetings's filter, page size and cursor, and the problems with them (the
    service adds the cursor's own, so that one 400 names every bad parameter)."""
    problems: list[str] = []
    values: dict[str, str] = {}
    query = _query_values(request)
    for name in _LIST_PARAMETERS:
        given = query.get(name, ())
        if len(given) > 1:
            problems.append(f"{name}: give it at most once")
        elif given:
            values[name] = given[0]
    instants = {}
    for name in ("fromDateTime", "toDateTime"):
        if name in values:
            text = values[name]
            instant = parse_instant(text) if _DATETIME.match(text) else None
            if instant is None:
                problems.append(
                    f"{name}: not an RFC 3339 date-time with an offset,"
                    " such as 2030-01-15T10:00:00Z"
                )
            instants[name] = instant
    emails = {}
    for name in ("organizerEmail", "attendeeEmail"):
        if name in values:
            if is_email(values[name]):
                emails[name] = normalize_email(values[name])
            else:
                problems.append(f"{name}: not a valid email address, such as name@example.com")
    page_size = PAGE_SIZE_DEFAULT
    if "limit" in values:
        text = values["limit"]
        if text.isascii() and text.isdigit() and 1 <= int(text) <= PAGE_SIZE_MAX:
            page_size = int(text)
        else:
            problems.append(f"limit: must be a whole number from 1 to {PAGE_SIZE_MAX}")
    cursor = values.get("cursor")
    if cursor is not None and not 0 < len(cursor) <= CURSOR_MAX:
        problems.append("cursor: pass back the records.cursor of the previous page unchanged")
        cursor = None  # named once: the service need not look at it again
    where = MeetingFilter(
        start_from=instants.get("fromDateTime"),
        start_to=instants.get("toDateTime"),
        organizer=emails.get("organizerEmail"),
        attendee=emails.get("attendeeEmail"),
    )
    return where, page_size, cursor, problems


def _query_values(request: Request) -> dict[str, list[str]]:
    """Each query parameter's values, parsed as Starlette's QueryParams parses them, without
    the two dictionaries and list it builds around them (half of a list's query parsing)."""
    found: dict[str, list[str]] = {}
    query = request.scope["query_string"].decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        found.setdefault(name, []).append(value)
    return found


def first_header(request: Request, name: bytes) -> str:
    """The first value of the header `name` (lowercase, as the server gives names), or "".
    `request.headers.get` builds a Headers object and goes through Mapping.get, three times
    what this scan costs, for the few headers every call reads."""
    for key, value in request.scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return ""


def header_values(request: Request, name: bytes) -> list[str]:
    """Every value of the header `name` (lowercase), in the order received."""
    return [value.decode("latin-1") for key, value in request.scope["headers"] if key == name]


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header: at most 255 printable ASCII characters."""
    given = header_values(request, b"idempotency-key")
    if not given:
        return None
    if len(given) > 1 or not _IDEMPOTENCY_KEY.fullmatch(given[0]):
        raise BadRequest(
            f"Idempotency-Key: send one key of 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII"
            " characters, such as a UUID"
        )
    return given[0]
