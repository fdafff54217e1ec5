"""Rate-limit test helpers: a clock the tests move, the instant it starts at, header checks.

The expected values are written out (policy names, header syntax, seconds to a window's end)
rather than derived from the server's code, so a change there fails the tests.
"""

import re
from datetime import UTC, datetime

import httpx
import pytest

from tests.helpers import assert_error

# 2030-01-15T13:46:40.25Z: a quarter of a second into a second, 40.25 s into a minute and
# 10 h 13 min 19.75 s before the next 00:00 UTC, so every window's Retry-After is known.
START = datetime(2030, 1, 15, 13, 46, 40, 250_000, tzinfo=UTC).timestamp()
TO_NEXT_SECOND = 1  # 0.75 s, rounded up
TO_NEXT_MINUTE = 20  # 19.75 s, rounded up
TO_MIDNIGHT = 36_800  # 36,799.75 s, rounded up

# Most tests are about counting, not about the database: SQLite alone will do for them.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

_WINDOW = re.compile(r'"(per-second|per-day)";r=(\d+);t=(\d+)')


class FakeClock:
    """Stands still until a test moves it: `create_app(settings, clock=FakeClock())`."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def policy(per_second: int, per_day: int) -> str:
    """The `RateLimit-Policy` a workspace with this quota gets."""
    return f'"per-second";q={per_second};w=1, "per-day";q={per_day};w=86400'


def windows(response: httpx.Response) -> dict[str, tuple[int, int]]:
    """The `RateLimit` header as {policy: (remaining, seconds to the window's end)}."""
    header = response.headers.get("ratelimit")
    assert header is not None, (response.status_code, response.headers)
    items = header.split(", ")
    parsed = [_WINDOW.fullmatch(item) for item in items]
    assert all(parsed), header
    return {m[1]: (int(m[2]), int(m[3])) for m in parsed if m}


def assert_no_rate_limit_headers(response: httpx.Response) -> None:
    assert "ratelimit" not in response.headers, response.headers
    assert "ratelimit-policy" not in response.headers, response.headers


def assert_rate_limited(response: httpx.Response, retry_after: int, *fragments: str) -> None:
    """A 429 in the envelope, with `Retry-After` in whole seconds and messages holding each
    fragment."""
    assert_error(response, 429, *fragments)
    assert response.headers.get("retry-after") == str(retry_after), response.headers


async def bearer_token(
    client: httpx.AsyncClient, auth: tuple[str, str], scope: str | None = None
) -> dict[str, str]:
    """Headers carrying a fresh bearer token for the key `auth` (all scopes unless `scope`)."""
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/oauth2/token", data=form, auth=auth)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
