"""Reading a JSON request body: media type, size limit while reading, and decoding errors."""

import re
from typing import TypeVar

import msgspec
from starlette.requests import Request

from gong_meetings.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from gong_meetings.providers import UNKNOWN_PROVIDER

T = TypeVar("T")

_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_LAST_FIELD = re.compile(r"([A-Za-z]+)(?:\[\d+\])*$")
_MESSAGE_MAX = 300
_NOT_EMAIL = "not a valid email address, such as name@example.com"
_NOT_DATETIME = (
    "not an RFC 3339 date-time with an offset, such as 2026-01-01T10:00:00Z"
    " or 2026-01-01T12:00:00+02:00 (years 1000 to 9998, at most 6 fractional digits)"
)
# What a field's pattern means, said instead of quoting the pattern back.
_PATTERN_MESSAGES = {
    "organizerEmail": _NOT_EMAIL,
    "emailAddress": _NOT_EMAIL,
    "userEmail": _NOT_EMAIL,
    "meetingUrl": "not an absolute http or https URL, such as https://zoom.us/j/123",
    "scheduledStart": _NOT_DATETIME,
    "scheduledEnd": _NOT_DATETIME,
    "meetingProvider": UNKNOWN_PROVIDER,
}


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    too_large = PayloadTooLarge(f"body: larger than the limit of {max_bytes} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        # Checked as the body arrives, so a huge body is never held in memory whole.
        if len(chunks) > max_bytes:
            raise too_large
    return bytes(chunks)


def validation_message(error: msgspec.ValidationError) -> str:
    """One message naming the field by its JSON path: `attendees[2].name: expected str`."""
    match = _LOCATED.match(str(error))
    assert match is not None  # the pattern matches any text
    message, path = match["message"], (match["path"] or "").lstrip(".")
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


def decode_json(body: bytes, into: type[T]) -> T:
    """Decode and validate; every failure is a 400 that says what was wrong."""
    if not body.strip():
        raise BadRequest("body: required; send a JSON object")
    try:
        return msgspec.json.decode(body, type=into)
    except msgspec.ValidationError as error:
        raise BadRequest(validation_message(error)) from None
    except msgspec.DecodeError as error:
        raise BadRequest(f"body: malformed JSON ({error})") from None
    except UnicodeDecodeError:
        raise BadRequest("body: not valid UTF-8") from None
    except RecursionError:
        # msgspec raises this, not a decode error, on deeply nested input.
        raise BadRequest("body: JSON is nested too deeply") from None


async def read_json(request: Request, into: type[T], max_bytes: int) -> T:
    """The request body as `into`, or the 415, 413 or 400 that explains why not."""
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        shown = content_type[:100] or "none"
        raise UnsupportedMediaType(f"Content-Type: expected application/json, got {shown}")
    return decode_json(await _read_limited(request, max_bytes), into)
