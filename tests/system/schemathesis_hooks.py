"""Schemathesis hooks for the contract run: what JSON Schema cannot state.

The server requires `scheduledEnd` after `scheduledStart`, and a list's `toDateTime` after its
`fromDateTime` (400 otherwise). A schema can constrain each value alone but cannot compare two,
so schemathesis would call an inverted pair "schema-valid" and report the 400 as a wrongly
rejected request. These hooks keep generated pairs in order.

A list cursor is signed by the server: no generated string is one, and the server must refuse
them all. So generated cursors are left out of list requests (the API tests cover refused
cursors and paging).

An Idempotency-Key replays the first answer for 24 hours, even after that meeting is deleted
(as Stripe's keys do). The fuzzer reuses small generated keys across unrelated creates, so a
later create could replay a deleted meeting and the stateful checks would report it gone. Each
create that sends a key gets a fresh one instead (the API tests cover replays). Every other
value is sent as generated.
"""

import uuid
from datetime import datetime
from typing import Any

import schemathesis

_SCHEDULE = ("scheduledStart", "scheduledEnd")
_WINDOW = ("fromDateTime", "toDateTime")


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _is_write(case: Any) -> bool:
    return case.operation.method.upper() in ("POST", "PUT") and isinstance(case.body, dict)


def _is_valid_key(case: Any) -> bool:
    """A key the server accepts: replaced; a malformed one is sent as generated, to be refused."""
    key = case.headers["Idempotency-Key"]
    return isinstance(key, str) and 0 < len(key) <= 255 and all(" " <= c <= "~" for c in key)


def _is_list(case: Any) -> bool:
    return case.operation.method.upper() == "GET" and isinstance(case.query, dict)


def _ordered_window(query: dict[str, Any]) -> dict[str, Any]:
    """A list's time window in order (swapped when inverted, without its end when empty), and
    no generated cursor."""
    query = {name: value for name, value in query.items() if name != "cursor"}
    start, end = (_instant(query.get(name)) for name in _WINDOW)
    if start is None or end is None or start < end:
        return query
    if start == end:
        del query["toDateTime"]
    else:
        query["fromDateTime"], query["toDateTime"] = query["toDateTime"], query["fromDateTime"]
    return query


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Drop bodies whose start and end are the same instant: no order makes them valid."""
    if not _is_write(case):
        return True
    start, end = (_instant(case.body.get(name)) for name in _SCHEDULE)
    return start is None or end is None or start != end


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Put an inverted start and end in order; on an update, never send one without the other.

    An update merges into the stored meeting, so a lone start or end can cross the stored
    other half. Sending both, or neither, keeps a schema-valid update valid.
    """
    if _is_list(case):
        window = _ordered_window(case.query)
        if window != case.query:
            case.query = window
        return case
    if not _is_write(case):
        return case
    if case.headers and "Idempotency-Key" in case.headers and _is_valid_key(case):
        case.headers = {**case.headers, "Idempotency-Key": str(uuid.uuid4())}
    # A new dict, not an edit in place: assigning it makes schemathesis validate the body again,
    # so a case keeps the right verdict (valid or deliberately invalid) after the change.
    body = dict(case.body)
    start, end = (_instant(body.get(name)) for name in _SCHEDULE)
    if start is not None and end is not None and end < start:
        body["scheduledStart"], body["scheduledEnd"] = body["scheduledEnd"], body["scheduledStart"]
    if case.operation.method.upper() == "PUT" and (start is None) != (end is None):
        for name in _SCHEDULE:
            body.pop(name, None)
    if body != case.body:
        case.body = body
    return case
