"""The server accepts a string exactly when the served contract says it is valid.

For each field with a syntax rule, the served schema (pattern, format, lengths) and the wire
type that decodes it must agree on every value: otherwise clients and fuzzers that trust the
contract would see the server reject valid input, or accept invalid input.
"""

from typing import Any

import jsonschema_rs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gong_meetings import wire
from gong_meetings.providers import PROVIDER_PATTERN, canonical_provider
from gong_meetings.server.docs import load_served_contract
from gong_meetings.service.meetings import parse_instant

SCHEMAS: dict[str, Any] = load_served_contract()["components"]["schemas"]  # type: ignore[index]
CREATE = SCHEMAS["CreateMeetingRequest"]["properties"]


def _server_accepts(annotation: Any, value: str) -> bool:
    """Whether the wire type decodes `value`, and for date-times, the service can place it."""
    field_type = msgspec.defstruct("F", [("value", annotation)])
    try:
        msgspec.json.decode(msgspec.json.encode({"value": value}), type=field_type)
    except msgspec.ValidationError:
        return False
    return annotation is not wire.DateTimeText or parse_instant(value) is not None


FIELDS = {
    "organizerEmail": (CREATE["organizerEmail"], wire.Email),
    "meetingUrl": (CREATE["meetingUrl"], wire.Url),
    "scheduledStart": (CREATE["scheduledStart"], wire.DateTimeText),
    "meetingProvider": (CREATE["meetingProvider"], wire.Provider),
}

EDGES = [
    "",
    "a@b",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "x@example.com\n",
    "user.name+tag@sub.example.co",
    "http://",
    "http://a:",
    "https://zoom.us/j/123?pwd=x#y",
    "javascript:alert(1)",
    "ftp://example.com",
    "2026-01-01T10:00:00Z",
    "2026-01-01T10:00:00",
    "2026-01-01t10:00:00z",
    "0999-01-01T10:00:00Z",
    "9999-01-01T10:00:00Z",
    "2026-01-01T10:00:00.1234567Z",
    "2026-01-01T23:59:60Z",
    "zoom",
    "Google_Meet",
    "MS-Teams",
    " zoom",
    "skype",
]


def _text_near(pattern: str) -> st.SearchStrategy[str]:
    matching = st.from_regex(wire.python_pattern(pattern), fullmatch=True)
    return st.one_of(matching, matching.map(lambda s: s[:-1]), matching.map(lambda s: s + "\n"))


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("value", EDGES)
def test_edge_values_agree(name: str, value: str) -> None:
    schema, annotation = FIELDS[name]
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    assert _server_accepts(annotation, value) == validator.is_valid(value), (name, value)


@pytest.mark.parametrize("name", FIELDS)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_values_agree(name: str, data: st.DataObject) -> None:
    schema, annotation = FIELDS[name]
    strategies = [st.text(max_size=80), _text_near(schema["pattern"])]
    if name == "organizerEmail":
        strategies.append(st.emails())
    value = data.draw(st.one_of(strategies))
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    assert _server_accepts(annotation, value) == validator.is_valid(value), (name, value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=20), st.from_regex(PROVIDER_PATTERN, fullmatch=True)))
def test_provider_pattern_admits_exactly_the_known_names(name: str) -> None:
    assert (canonical_provider(name) is not None) == _server_accepts(wire.Provider, name)
