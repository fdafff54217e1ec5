"""Validation problems, each named by its JSON path and said so a client can act on it."""

import re
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from msgspec import UnsetType

from gong_meetings.providers import UNKNOWN_PROVIDER

_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_LAST_FIELD = re.compile(r"([A-Za-z]+)(?:\[\d+\])*$")
_MESSAGE_MAX = 300
# A body with a thousand bad attendees gets this many messages, then a count of the rest.
MAX_PROBLEMS = 50
_NOT_EMAIL = "not a valid email address, such as name@example.com"
_NOT_DATETIME = (
    "not an RFC 3339 date-time with an offset, such as 2026-01-01T10:00:00Z"
    " or 2026-01-01T12:00:00+02:00 (years 1000 to 9998, at most 6 fractional digits)"
)
_NO_NUL = "must not contain the NUL character (U+0000)"
# What a field's pattern means, said instead of quoting the pattern back.
_PATTERN_MESSAGES = {
    "organizerEmail": _NOT_EMAIL,
    "emailAddress": _NOT_EMAIL,
    "userEmail": _NOT_EMAIL,
    "meetingUrl": "not an absolute http or https URL, such as https://zoom.us/j/123",
    "scheduledStart": _NOT_DATETIME,
    "scheduledEnd": _NOT_DATETIME,
    "meetingProvider": UNKNOWN_PROVIDER,
    "title": _NO_NUL,
    "description": _NO_NUL,
    "name": _NO_NUL,
    "externalMeetingId": _NO_NUL,
}


def _join(base: str, relative: str) -> str:
    if not base or not relative or relative.startswith("["):
        return base + relative
    return f"{base}.{relative}"


def validation_message(error: msgspec.ValidationError, base: str = "") -> str:
    """One message naming the field by its JSON path: `attendees[2].name: expected str`.

    `base` is the path of the value the error is about, when that is not the whole body.
    """
    match = _LOCATED.match(str(error))
    assert match is not None  # the pattern matches any text
    message, path = match["message"], _join(base, (match["path"] or "").lstrip("."))
    missing = _MISSING.match(message)
    if missing:
        path = f"{path}.{missing['field']}" if path else missing["field"]
        message = "required field is missing"
    elif message.startswith("Expected `str` matching regex"):
        field = _LAST_FIELD.search(path)
        message = _PATTERN_MESSAGES.get(field[1] if field else "", "does not have the right form")
    else:
        message = message.replace("`", "")
        message = message[:1].lower() + message[1:]
    if len(message) > _MESSAGE_MAX:
        message = message[:_MESSAGE_MAX] + "..."
    return f"{path or 'body'}: {message}"


def _bare(annotation: Any) -> Any:
    """`X` from `X | UnsetType` and from `Annotated[X, Meta(...)]`."""
    if get_origin(annotation) is Union:
        annotation = next(a for a in get_args(annotation) if a is not UnsetType)
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _problems(value: object, annotation: Any, path: str) -> list[str]:
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as error:
        first = validation_message(error, path)
    else:
        return []
    bare = _bare(annotation)
    found: list[str] = []
    if isinstance(bare, type) and issubclass(bare, msgspec.Struct) and isinstance(value, dict):
        for field in msgspec.structs.fields(bare):
            child = _join(path, field.encode_name)
            if field.encode_name in value:
                found += _problems(value[field.encode_name], field.type, child)
            elif field.required:
                found.append(f"{child}: required field is missing")
    elif get_origin(bare) is list and isinstance(value, list):
        if first.startswith(f"{path}: "):  # the list itself is wrong (too long), not an item
            found.append(first)
        for index, item in enumerate(value):
            found += _problems(item, get_args(bare)[0], f"{path}[{index}]")
    return found or [first]


def all_problems(body: bytes, into: Any, first: msgspec.ValidationError) -> list[str]:
    """Every problem in `body` as `into` (up to a bound), or else the decoder's first error.

    The typed decoder stops at the first problem. This runs only after it failed, so a valid
    request never pays for the second, untyped decode.
    """
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return [validation_message(first)]
    found = _problems(raw, into, "") or [validation_message(first)]
    if len(found) > MAX_PROBLEMS:
        found[MAX_PROBLEMS:] = [f"... and {len(found) - MAX_PROBLEMS} more problems"]
    return found
