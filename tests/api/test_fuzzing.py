"""Property-based fuzzing (issue 8, point 6): arbitrary JSON values, byte strings, media types,
header values, paths and query strings sent to every endpoint never get a 500.

Every response, whatever was sent, must:

- have a status below 500 and an `X-Request-Id`;
- leak nothing of the implementation (no `Traceback`, `File "...`, or `sqlalchemy`);
- on /v2, and for every error anywhere, be JSON: a 2xx from /v2 carries the request id, and an
  error is the envelope `{"requestId", "errors": [non-empty strings]}` whose id is the
  header's; except that /oauth2/token answers its own errors in OAuth's shape
  `{"error", "error_description"}` (its 413 is the envelope, as the contract says).

Each test builds one app, on a SQLite file of its own, with two workspaces: `acme`, whose
credentials the requests use (HTTP Basic, a bearer token with every scope, wrong ones, none or
arbitrary `Authorization` values), and `globex`, whose meeting acme must never reach. At setup
acme gets a `sentinel` meeting, which requests may read but never change (a PUT or DELETE on it
always carries a stale If-Match), and a `victim` meeting that fuzzed PUTs and DELETEs may
legitimately change or delete (it is recreated when deleted). After the examples, the sentinel
and globex's meeting must read back exactly as created.

The app runs in a blocking portal (an asyncio loop in a thread) for the whole test, so that
hypothesis's examples, which are synchronous, share it instead of starting an app each.
"""

import base64
import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gong_meetings.config import Settings
from gong_meetings.providers import PROVIDER_PATTERN
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from gong_meetings.wire import DATETIME_PATTERN, EMAIL_PATTERN, URL_PATTERN
from tests.helpers import REQUEST_ID, Tenant, app_client, make_tenant, meeting_body

ALL_SCOPES = (
    "api:meetings:user:create api:meetings:user:update api:meetings:user:delete"
    " api:meetings:integration:status api:meetings:user:read"
)
PROVIDERS = (
    "Zoom",
    "zoom",
    "Google Meet",
    "google_meet",
    "meet",
    "Microsoft Teams",
    "MS-Teams",
    "teams",
    "Webex",
    "cisco  webex",
    "Skype",
    "",
)
RESPONSE_STATUSES = ("Accepted", "Declined", "Tentative", "NeedsAction", "accepted", "")
LEAKS = (b"traceback", b'file "', b"sqlalchemy")
# A stale entity tag: the sentinel is at version 1 and never changes.
STALE = b'"0"'
FUZZ = settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------------------------
# The app under test, run in a portal for the whole test function.


@dataclass
class World:
    portal: BlockingPortal
    http: httpx.AsyncClient
    acme: Tenant
    globex: Tenant
    token: str = ""
    sentinel: dict[str, Any] = field(default_factory=dict)
    foreign: dict[str, Any] = field(default_factory=dict)
    victim_id: str = ""
    cursor: str = ""

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(functools.partial(self.http.request, method, url, **kwargs))

    def basic(self, tenant: Tenant | None = None) -> bytes:
        access_key, secret = (tenant or self.acme).auth
        return b"Basic " + base64.b64encode(f"{access_key}:{secret}".encode())

    def create(self, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
        response = self.request(
            "POST",
            "/v2/meetings",
            json=meeting_body(tenant.organizer, **overrides),
            headers={"Authorization": self.basic(tenant)},
        )
        assert response.status_code == 201, response.text
        meeting: dict[str, Any] = response.json()["meeting"]
        return meeting

    def read(self, meeting_id: str, tenant: Tenant) -> httpx.Response:
        return self.request(
            "GET", f"/v2/meetings/{meeting_id}", headers={"Authorization": self.basic(tenant)}
        )

    def assert_intact(self) -> None:
        """The sentinel and globex's meeting read back exactly as created, at version 1."""
        for meeting, tenant in ((self.sentinel, self.acme), (self.foreign, self.globex)):
            response = self.read(meeting["id"], tenant)
            assert response.status_code == 200, response.text
            assert response.json()["meeting"] == meeting
            assert response.headers["etag"] == '"1"'
        # And acme's list, read to its end, holds the sentinel, and never globex's meeting.
        ids = set()
        query: dict[str, Any] = {"limit": 100}
        while True:
            response = self.request(
                "GET", "/v2/meetings", headers={"Authorization": self.basic()}, params=query
            )
            assert response.status_code == 200, response.text
            ids.update(m["id"] for m in response.json()["meetings"])
            cursor = response.json()["records"].get("cursor")
            if cursor is None:
                break
            query = {"cursor": cursor}
        assert self.sentinel["id"] in ids
        assert self.foreign["id"] not in ids


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path}/fuzz.db"
    database = Database(url)
    try:
        upgrade(database.engine)
        accounts = AccountService(database)
        acme, globex = make_tenant(accounts, "acme"), make_tenant(accounts, "globex")
    finally:
        database.close()
    app_settings = Settings(
        database_url=url,
        public_base_url="http://meetings.test",
        # Failed logins are sent on purpose; the address must not get locked out by them.
        auth_failures_per_minute=1_000_000_000,
    )
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(app_client(app_settings)) as http,
    ):
        world = World(portal, http, acme, globex)
        world.sentinel = world.create(
            acme,
            title="Sentinel",
            description="Must survive every fuzzed request",
            meetingUrl="https://meet.acme.test/sentinel",
            meetingProvider="Zoom",
            externalMeetingId="ext-sentinel",
            attendees=[
                {"emailAddress": "ada@acme.test", "name": "Ada", "responseStatus": "Accepted"},
                {"emailAddress": "bob@acme.test"},
            ],
        )
        world.foreign = world.create(globex, title="Globex only")
        world.victim_id = world.create(acme, title="Victim")["id"]
        response = world.request(
            "POST",
            "/oauth2/token",
            data={"grant_type": "client_credentials", "scope": ALL_SCOPES},
            headers={"Authorization": world.basic()},
        )
        assert response.status_code == 200, response.text
        world.token = response.json()["access_token"]
        response = world.request(
            "GET", "/v2/meetings?limit=1", headers={"Authorization": world.basic()}
        )
        world.cursor = response.json()["records"]["cursor"]
        yield world


# ---------------------------------------------------------------------------------------------
# What every response must be.


def check(response: httpx.Response, *, oauth: bool = False) -> Any:
    """The properties every response has (see the module docstring); its JSON body, if any."""
    request = response.request
    shown = (request.method, str(request.url)[:300], response.status_code, response.text[:500])
    assert response.status_code < 500, shown
    assert REQUEST_ID.match(response.headers.get("x-request-id", "")), response.headers
    path = request.url.path
    static = path.startswith("/docs/assets/") and response.status_code < 400
    if not static:  # Swagger UI's own JavaScript mentions tracebacks
        lowered = response.content.lower()
        assert not any(leak in lowered for leak in LEAKS), shown
    is_error = response.status_code >= 400
    if request.method == "HEAD" or not (is_error or oauth or path.startswith("/v2/")):
        return None
    assert response.headers.get("content-type") == "application/json", (response.headers, shown)
    body = response.json()
    assert isinstance(body, dict), shown
    if oauth and is_error and response.status_code != 413:
        assert set(body) == {"error", "error_description"}, shown
        assert isinstance(body["error"], str) and re.fullmatch(r"[a-z_]+", body["error"]), shown
        assert isinstance(body["error_description"], str) and body["error_description"], shown
    elif is_error:
        assert set(body) == {"requestId", "errors"}, shown
        assert body["requestId"] == response.headers["x-request-id"], shown
        errors = body["errors"]
        assert isinstance(errors, list) and errors, shown
        assert all(isinstance(e, str) and e for e in errors), shown
    elif not oauth:
        assert body["requestId"] == response.headers["x-request-id"], shown
    return body


# ---------------------------------------------------------------------------------------------
# Arbitrary JSON values, and their text as JSON allows it.

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400]),
    st.floats(),
    st.text(),
    st.text(st.characters(max_codepoint=0x20)),
    st.sampled_from(["\x00", "\ud800", "\udc00", "a\udfffb", "\ufeff", "\u2028", "\U0001f680"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def to_json(value: Any, *, ascii_only: bool = True) -> str:
    """JSON text for any value. Strings are escaped as `json` does (with `ascii_only`, a lone
    surrogate becomes `\\ud800`; without, it stays raw, and the bytes are not UTF-8). JSON has
    no non-finite numbers: infinities are written `1e999` (valid syntax that overflows) and
    NaN as the bare `NaN` that some encoders emit (invalid JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, ascii_only=ascii_only) for v in value) + "]"
    assert isinstance(value, dict), value
    return (
        "{"
        + ",".join(
            f"{to_json(str(k), ascii_only=ascii_only)}:{to_json(v, ascii_only=ascii_only)}"
            for k, v in value.items()
        )
        + "}"
    )


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    """One of `values` as JSON bytes: escaped to ASCII, or raw (lone surrogates then make
    invalid UTF-8), and sometimes cut short or with bytes inserted."""
    value = draw(values)
    ascii_only = draw(st.booleans())
    raw = to_json(value, ascii_only=ascii_only).encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from([*["none"] * 6, "truncate", "insert"]))
    if mutation == "none" or not raw:
        return raw
    at = draw(st.integers(0, len(raw)))
    if mutation == "truncate":
        return raw[:at]
    return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]


def bodies(
    valid: st.SearchStrategy[dict[str, Any]], fields: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[bytes | None]:
    """Request bodies: valid objects, valid objects with a few fields removed or replaced by
    values near the field's kind or by any JSON value (the most likely to go deep), arbitrary
    JSON values, arbitrary bytes, an empty body and no body."""
    return st.one_of(
        encoded(valid),
        encoded(shaped(valid, fields)),
        encoded(shaped(valid, fields)),
        encoded(json_values),
        st.binary(max_size=2_000),
        st.sampled_from([b"", b" ", b"null", b"{}", b"[]", None]),
    )


# ---------------------------------------------------------------------------------------------
# Values near what each field accepts, so that validation goes past the type checks.

latin1 = st.text(st.characters(codec="latin-1"), max_size=200)
texts = st.one_of(
    st.text(max_size=30),
    st.integers(495, 505).map(lambda n: "x" * n),
    st.integers(9_995, 10_005).map(lambda n: "d" * n),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "\U0001f680" * 3]),
)
offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)
date_times = st.one_of(
    st.from_regex(DATETIME_PATTERN, fullmatch=True),
    st.datetimes(timezones=offsets).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2030-02-30T10:00:00Z",
            "1000-01-01T00:00:00+23:59",
            "9998-12-31T23:59:59-23:59",
            "2030-01-15T10:00:00.1234567Z",
            "2030-01-15T10:00:00Z\n",
        ]
    ),
    st.text(max_size=30),
)
emails = st.one_of(
    st.from_regex(EMAIL_PATTERN, fullmatch=True),
    st.emails(),
    st.sampled_from(
        [
            "organizer@acme.test",
            "ORGANIZER@ACME.TEST",
            "organizer@globex.test",
            "a" * 64 + "@acme.test",
            "a" * 65 + "@acme.test",
            "organizer@acme.test\n",
            "",
        ]
    ),
    st.text(max_size=30),
)
urls = st.one_of(
    st.from_regex(URL_PATTERN, fullmatch=True),
    st.sampled_from(
        [
            "https://meet.acme.test:65535/room?x=1#y",
            "https://meet.acme.test:65536/",
            "HTTP://MEET.ACME.TEST/",
            "javascript:alert(1)",
            "https://meet.acme.test/\x00",
        ]
    ),
    st.integers(2_040, 2_060).map(lambda n: "https://m.test/" + "r" * (n - 15)),
    st.text(max_size=30),
)
providers = st.one_of(st.sampled_from(PROVIDERS), st.text(max_size=20))
statuses = st.one_of(st.sampled_from(RESPONSE_STATUSES), st.text(max_size=12))


def near(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a value near the field's kind, sometimes any JSON value at all."""
    return st.one_of(strategy, strategy, json_values)


attendee = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "emailAddress": near(emails),
            "name": near(texts),
            "responseStatus": near(statuses),
            "extra": json_values,
        },
    ),
    json_values,
)
attendees = st.one_of(
    st.lists(attendee, max_size=5),
    st.integers(998, 1_002).map(
        lambda n: [{"emailAddress": f"guest{i}@acme.test"} for i in range(n)]
    ),
    json_values,
)
MEETING_FIELDS = {
    "title": near(texts),
    "scheduledStart": near(date_times),
    "scheduledEnd": near(date_times),
    "meetingUrl": near(urls),
    "description": near(texts),
    "attendees": attendees,
}
CREATE_FIELDS = {
    **MEETING_FIELDS,
    "organizerEmail": near(emails),
    "meetingProvider": near(providers),
    "externalMeetingId": near(texts),
}
STATUS_FIELDS = {"userEmail": near(emails), "meetingProvider": near(providers)}


@st.composite
def shaped(
    draw: st.DrawFn,
    valid: st.SearchStrategy[dict[str, Any]],
    fields: dict[str, st.SearchStrategy[Any]],
) -> dict[str, Any]:
    """A valid body with a few fields removed, a few replaced by values from `fields`, and
    perhaps unknown fields added."""
    body = draw(valid)
    for name in draw(st.sets(st.sampled_from(sorted(fields)), max_size=2)):
        body.pop(name, None)
    for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3)):
        body[name] = draw(fields[name], label=name)
    body.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=2)))
    return body


# Values each field accepts (the service may still refuse them: end before start, an
# organizer who is no user, ...).

valid_texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
valid_offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
valid_instants = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30), timezones=valid_offsets
)
valid_emails = st.one_of(
    st.sampled_from(["organizer@acme.test", "Organizer@ACME.test", "nobody@acme.test"]),
    st.from_regex(EMAIL_PATTERN, fullmatch=True).filter(lambda e: len(e) <= 254),
)
valid_urls = st.from_regex(URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= 2_048)
valid_providers = st.one_of(
    st.sampled_from(PROVIDERS[:-2]), st.from_regex(PROVIDER_PATTERN, fullmatch=True)
)
valid_attendees = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "emailAddress": valid_emails,
            "name": valid_texts,
            "responseStatus": st.sampled_from(RESPONSE_STATUSES[:4]),
        },
    ),
    max_size=4,
)


def date_time_text(instant: datetime) -> str:
    text = instant.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, str]:
    """scheduledStart and scheduledEnd; the end usually after the start."""
    start = draw(valid_instants)
    length = draw(st.timedeltas(min_value=timedelta(hours=-1), max_value=timedelta(days=400)))
    end = start + length if datetime(1000, 1, 2, tzinfo=UTC) < start + length else start
    if end.astimezone(UTC).year > 9998:
        end = start
    return {"scheduledStart": date_time_text(start), "scheduledEnd": date_time_text(end)}


OPTIONAL_MEETING_FIELDS = {
    "meetingUrl": valid_urls,
    "description": valid_texts,
    "attendees": valid_attendees,
}


@st.composite
def valid_creates(draw: st.DrawFn, organizer: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": draw(valid_texts.filter(bool)),
        **draw(schedules()),
        "organizerEmail": draw(st.one_of(st.just(organizer), valid_emails)),
    }
    body.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    **OPTIONAL_MEETING_FIELDS,
                    "meetingProvider": valid_providers,
                    "externalMeetingId": valid_texts,
                },
            )
        )
    )
    return body


@st.composite
def valid_updates(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {}, optional={**OPTIONAL_MEETING_FIELDS, "title": valid_texts.filter(bool)}
        )
    )
    schedule = draw(schedules())
    for name in draw(st.sets(st.sampled_from(sorted(schedule)))):
        body[name] = schedule[name]
    return body


def valid_statuses(organizer: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "userEmail": st.one_of(st.just(organizer), valid_emails),
            "meetingProvider": valid_providers,
        },
    )


# ---------------------------------------------------------------------------------------------
# Headers.

JSON = "application/json"
# Most requests send what the endpoint reads, so that they get past the media-type check.
content_types = st.one_of(
    st.just(JSON),
    st.just(JSON),
    st.just(JSON),
    st.just(JSON),
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "APPLICATION/JSON ;charset=latin-1",
            "application/merge-patch+json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    latin1,
    st.none(),
)
optional_header = st.one_of(st.none(), latin1)
if_match_values = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from(["*", '"1"', '"2"', 'W/"1"', '"1", "2"', "", ","]),
    latin1,
)
idempotency_keys = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.uuids().map(str),
    st.sampled_from(["k", "x" * 255, "x" * 256, ""]),
    latin1,
)
# Mostly valid credentials, so that most requests reach the handlers.
AUTH_KINDS = (
    *["basic"] * 6,
    *["bearer"] * 2,
    "none",
    "wrong-secret",
    "foreign-token",
    "fuzzed",
)
auth_kinds = st.sampled_from(AUTH_KINDS)
fuzzed_auth = st.one_of(
    latin1,
    st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.text(st.characters(codec="latin-1"), max_size=60).map(lambda t: "Bearer " + t),
    st.sampled_from(["Basic", "Basic ", "Bearer", "Bearer ", "basic Og==", "Digest x"]),
)


def authorization(world: World, kind: str, fuzzed: str) -> bytes | None:
    if kind == "basic":
        return world.basic()
    if kind == "bearer":
        return f"Bearer {world.token}".encode()
    if kind == "wrong-secret":
        return b"Basic " + base64.b64encode(f"{world.acme.auth[0]}:wrong".encode())
    if kind == "foreign-token":
        return b"Bearer " + world.token[::-1].encode()
    if kind == "fuzzed":
        return fuzzed.encode("latin-1")
    return None


def headers_of(**values: str | bytes | None) -> dict[str, bytes]:
    """Headers for httpx, as bytes so that any latin-1 value goes through unchanged."""
    return {
        name.replace("_", "-"): value if isinstance(value, bytes) else value.encode("latin-1")
        for name, value in values.items()
        if value is not None
    }


def segment(text: str) -> str:
    """`text` as one URL path segment, percent-encoded (lone surrogates as their raw bytes).
    `.` and `..` have their dots encoded too: as they are, the client removes them from the
    path (RFC 3986's dot segments), and `/v2/meetings/.` is sent as `/v2/meetings`."""
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


# What may stand in a URL's query as it is (httpx refuses control characters; `#` ends it).
url_characters = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="#")


def query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{segment(k)}={segment(v)}" for k, v in pairs)


def run(test: Callable[..., None], world: World) -> None:
    """Run the hypothesis test, then check that nothing stored was harmed."""
    test()
    world.assert_intact()


# ---------------------------------------------------------------------------------------------
# POST /v2/meetings


def test_create_meeting_never_fails(world: World) -> None:
    @FUZZ
    @given(
        body=bodies(valid_creates(world.acme.organizer), CREATE_FIELDS),
        content_type=content_types,
        kind=auth_kinds,
        fuzzed=fuzzed_auth,
        key=idempotency_keys,
    )
    def create(
        body: bytes | None, content_type: str | None, kind: str, fuzzed: str, key: str | None
    ) -> None:
        headers = headers_of(
            Authorization=authorization(world, kind, fuzzed),
            Content_Type=content_type,
            Idempotency_Key=key,
        )
        response = world.request("POST", "/v2/meetings", content=body, headers=headers)
        answer = check(response)
        if response.status_code == 201:
            # What was stored reads back as the create answered.
            meeting = answer["meeting"]
            assert answer["meetingId"] == meeting["id"]
            again = world.read(meeting["id"], world.acme)
            assert again.status_code == 200, again.text
            assert again.json()["meeting"] == meeting

    run(create, world)


# ---------------------------------------------------------------------------------------------
# GET, PUT and DELETE /v2/meetings/{meetingId}


@st.composite
def meeting_ids(draw: st.DrawFn, world: World) -> str:
    """A path segment: a real meeting's id (acme's, or globex's), near misses of one, numbers
    no meeting has, or any text; URL-encoded."""
    sentinel, foreign = world.sentinel["id"], world.foreign["id"]
    real = draw(st.sampled_from([sentinel, world.victim_id, foreign]))
    return draw(
        st.one_of(
            st.just(real),
            st.just(real),
            st.sampled_from(
                [
                    "0" + real,
                    "+" + real,
                    real + " ",
                    " " + real,
                    real + "\x00",
                    real[:-1],
                    real + "0",
                    str(int(real) + 2**64),
                    "".join(chr(0x0660 + int(c)) for c in real),  # Arabic-Indic digits
                    real.replace("1", "\u00b9"),
                    "integration-status",
                    "-1",
                    "0",
                    "9" * 19,
                    str(2**63 - 1),
                    str(2**63),
                ]
            ),
            st.integers().map(str),
            st.text(min_size=1, max_size=40),
        )
    )


def test_read_update_and_delete_a_meeting_never_fail(world: World) -> None:
    @FUZZ
    @given(
        data=st.data(),
        method=st.sampled_from(["GET", "PUT", "PUT", "DELETE"]),
        body=bodies(valid_updates(), MEETING_FIELDS),
        content_type=content_types,
        kind=auth_kinds,
        fuzzed=fuzzed_auth,
        if_match=if_match_values,
    )
    def operate(
        data: st.DataObject,
        method: str,
        body: bytes | None,
        content_type: str | None,
        kind: str,
        fuzzed: str,
        if_match: str | None,
    ) -> None:
        meeting_id = data.draw(meeting_ids(world), label="meetingId")
        stale = meeting_id == world.sentinel["id"] and method != "GET"
        headers = headers_of(
            Authorization=authorization(world, kind, fuzzed),
            Content_Type=content_type,
            If_Match=STALE if stale else if_match,
        )
        url = f"/v2/meetings/{segment(meeting_id)}"
        response = world.request(
            method, url, content=body if method == "PUT" else None, headers=headers
        )
        answer = check(response)
        if response.is_success:
            # Only acme's own meetings, named exactly, can be reached.
            assert meeting_id in (world.sentinel["id"], world.victim_id), (method, meeting_id)
        if method == "GET" and meeting_id == world.sentinel["id"] and response.is_success:
            assert answer["meeting"] == world.sentinel
        if method == "DELETE" and response.is_success:
            world.victim_id = world.create(world.acme, title="Victim")["id"]

    run(operate, world)


# ---------------------------------------------------------------------------------------------
# GET /v2/meetings


@st.composite
def list_queries(draw: st.DrawFn, world: World) -> str:
    cursor = world.cursor
    names = st.one_of(
        st.sampled_from(
            ["fromDateTime", "toDateTime", "organizerEmail", "attendeeEmail", "limit", "cursor"]
        ),
        st.text(max_size=12),
    )
    values = st.one_of(
        date_times,
        emails,
        st.integers().map(str),
        st.sampled_from(["0", "1", "100", "101", "\u0663", "\u00b2", "+5", " 5", "1e2"]),
        st.sampled_from(
            [cursor, cursor[:-1], cursor + "x", cursor[::-1], "x" * 2_048, "x" * 2_049, ""]
        ),
        st.text(max_size=40),
    )
    pairs = draw(st.lists(st.tuples(names, values), max_size=6))
    return draw(
        st.one_of(
            st.just(query_string(pairs)),
            st.text(url_characters, max_size=80),
            st.binary(max_size=60).map(lambda raw: quote(raw, safe="=&")),
        )
    )


def test_list_meetings_never_fails(world: World) -> None:
    @FUZZ
    @given(data=st.data(), kind=auth_kinds, fuzzed=fuzzed_auth)
    def list_meetings(data: st.DataObject, kind: str, fuzzed: str) -> None:
        query = data.draw(list_queries(world), label="query")
        headers = headers_of(Authorization=authorization(world, kind, fuzzed))
        response = world.request("GET", f"/v2/meetings?{query}", headers=headers)
        answer = check(response)
        if response.is_success:
            ids = [m["id"] for m in answer["meetings"]]
            assert world.foreign["id"] not in ids
            records = answer["records"]
            assert records["currentPageSize"] == len(ids) <= records["totalRecords"]

    run(list_meetings, world)


# ---------------------------------------------------------------------------------------------
# POST /v2/meetings/integration-status


def test_integration_status_never_fails(world: World) -> None:
    @FUZZ
    @given(
        body=bodies(valid_statuses(world.acme.organizer), STATUS_FIELDS),
        content_type=content_types,
        kind=auth_kinds,
        fuzzed=fuzzed_auth,
    )
    def status(body: bytes | None, content_type: str | None, kind: str, fuzzed: str) -> None:
        headers = headers_of(
            Authorization=authorization(world, kind, fuzzed), Content_Type=content_type
        )
        response = world.request(
            "POST", "/v2/meetings/integration-status", content=body, headers=headers
        )
        answer = check(response)
        if response.is_success:
            assert isinstance(answer["isIntegrated"], bool)
            assert answer["status"] in ("Active", "Inactive", "Error")
            assert isinstance(answer["details"], str)

    run(status, world)


# ---------------------------------------------------------------------------------------------
# POST /oauth2/token


@st.composite
def token_forms(draw: st.DrawFn, world: World) -> bytes:
    """A client-credentials form (credentials in it or not), with parameters dropped, repeated
    or added, in any order."""
    access_key, secret = world.acme.auth
    pairs: list[tuple[str, str]] = []
    if draw(st.integers(0, 4)):
        pairs.append(
            ("grant_type", draw(st.sampled_from(["client_credentials"] * 4 + ["password", ""])))
        )
    if draw(st.booleans()):
        scope = draw(
            st.sampled_from(
                [ALL_SCOPES, "", "api:meetings:user:read", "api:meetings:user:admin", " "]
            )
        )
        pairs.append(("scope", scope))
    if draw(st.booleans()):
        pairs.append(("client_id", draw(st.sampled_from([access_key, world.globex.auth[0], ""]))))
    if draw(st.booleans()):
        pairs.append(("client_secret", draw(st.sampled_from([secret, "wrong", ""]))))
    names = st.one_of(
        st.sampled_from(["grant_type", "scope", "client_id", "client_secret"]),
        st.text(max_size=10),
    )
    values = st.one_of(st.sampled_from([access_key, secret, ALL_SCOPES]), st.text(max_size=40))
    pairs += draw(st.lists(st.tuples(names, values), max_size=2))
    return query_string(draw(st.permutations(pairs))).encode("ascii")


def test_token_endpoint_never_fails(world: World) -> None:
    @FUZZ
    @given(
        data=st.data(),
        raw=st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=500)),
        content_type=st.one_of(
            st.just("application/x-www-form-urlencoded"),
            st.just("application/x-www-form-urlencoded"),
            st.just("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            content_types,
        ),
        kind=st.sampled_from(["basic", "basic", "basic", "none", "none", "wrong-secret", "fuzzed"]),
        fuzzed=fuzzed_auth,
    )
    def token(
        data: st.DataObject, raw: bytes | None, content_type: str | None, kind: str, fuzzed: str
    ) -> None:
        body = data.draw(token_forms(world), label="form") if raw is None else raw
        headers = headers_of(
            Authorization=authorization(world, kind, fuzzed), Content_Type=content_type
        )
        response = world.request("POST", "/oauth2/token", content=body, headers=headers)
        answer = check(response, oauth=True)
        assert response.headers.get("content-type") == "application/json"
        if response.is_success:
            assert answer["token_type"] == "Bearer"
            assert isinstance(answer["access_token"], str) and answer["access_token"]

    run(token, world)


# ---------------------------------------------------------------------------------------------
# The operational endpoints, other methods, and paths that are no endpoint.

OPERATIONAL = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")


def test_operational_endpoints_and_unknown_routes_never_fail(world: World) -> None:
    @FUZZ
    @given(
        path=st.one_of(
            st.sampled_from(OPERATIONAL),
            st.sampled_from(OPERATIONAL),
            st.sampled_from(
                ["/v2/meetings", "/v2/meetings/integration-status", "/oauth2/token", "/v2", "/"]
            ),
            # Empty segments too, but not a leading `//`, which httpx reads as a host.
            st.lists(st.text(max_size=15), min_size=1, max_size=4).map(
                lambda parts: re.sub("^/+", "/", "/" + "/".join(segment(p) for p in parts))
            ),
            st.text(max_size=30).map(lambda t: "/docs/assets/" + segment(t)),
            st.sampled_from(["/docs/assets/../../../etc/passwd", "/docs/assets/%2e%2e/x"]),
        ),
        query=st.one_of(
            st.just(""),
            st.text(url_characters, max_size=40),
            st.binary(max_size=40).map(lambda raw: quote(raw, safe="=&")),
        ),
        method=st.sampled_from(
            ["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        ),
        body=st.one_of(st.none(), st.binary(max_size=200)),
        content_type=content_types,
        kind=auth_kinds,
        fuzzed=fuzzed_auth,
        accept=optional_header,
    )
    def operate(
        path: str,
        query: str,
        method: str,
        body: bytes | None,
        content_type: str | None,
        kind: str,
        fuzzed: str,
        accept: str | None,
    ) -> None:
        headers = headers_of(
            Authorization=authorization(world, kind, fuzzed),
            Content_Type=content_type,
            Accept=accept,
        )
        url = f"{path}?{query}" if query else path
        response = world.request(method, url, content=body, headers=headers)
        check(response, oauth=path == "/oauth2/token" and method == "POST")
        if method == "GET" and path in ("/healthz", "/readyz"):
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "ok"
        if method == "GET" and path == "/openapi.json":
            assert response.status_code == 200
            assert response.json()["openapi"].startswith("3.")

    run(operate, world)


# ---------------------------------------------------------------------------------------------
# A declared Content-Length the body reader cannot parse.


def test_unparseable_content_length_is_not_a_500(world: World) -> None:
    """A Content-Length of any latin-1 text, on every endpoint that reads a body.

    Real HTTP parsers (httptools, h11) refuse most of these before the app sees them, but an
    app must not depend on that: `"²".isdigit()` is true and `int("²")` raises.
    """

    @FUZZ
    @given(
        length=st.one_of(
            st.text(st.characters(codec="latin-1"), max_size=12),
            st.text(st.sampled_from("0123456789\u00b2\u00b3\u00b9"), min_size=1, max_size=8),
        ),
        target=st.sampled_from(
            [
                ("POST", "/v2/meetings"),
                ("PUT", "/v2/meetings/1"),
                ("POST", "/v2/meetings/integration-status"),
                ("POST", "/oauth2/token"),
            ]
        ),
    )
    @example(length="\u00b2", target=("POST", "/v2/meetings"))
    @example(length="1\u00b3", target=("POST", "/oauth2/token"))
    def declared(length: str, target: tuple[str, str]) -> None:
        method, path = target
        content_type = "application/x-www-form-urlencoded" if path == "/oauth2/token" else None
        headers = headers_of(
            Authorization=world.basic(),
            Content_Type=content_type or "application/json",
            Content_Length=length,
        )
        response = world.request(method, path, content=b"{}", headers=headers)
        check(response, oauth=path == "/oauth2/token")

    run(declared, world)
