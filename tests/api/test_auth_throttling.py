"""Failed authentications are throttled per client address, per minute of the clock.

After the allowed number of failures in a minute an address is refused with 429, even with
correct credentials, until the minute ends. The address is the peer's, or the client that a
trusted proxy names in X-Forwarded-For. A fake clock moves through the minutes.
"""

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gong_meetings.config import Settings
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    http_client,
    running_app,
)
from tests.helpers import call_operation as call
from tests.ratelimits import (
    SQLITE_ONLY,
    TO_NEXT_MINUTE,
    FakeClock,
    assert_rate_limited,
    bearer_token,
)

pytestmark = SQLITE_ONLY

PROXY = ("127.0.0.1", 40_000)
OTHER_PEER = ("10.0.0.7", 1234)
TOKEN_URL = "/oauth2/token"
GRANT = {"grant_type": "client_credentials"}


def blocked_message(address: str, allowed: int, retry_after: int) -> str:
    unit = "second" if retry_after == 1 else "seconds"
    return (
        f"too many failed authentications from {address}: at most {allowed} a minute;"
        f" retry after {retry_after} {unit}"
    )


async def status(client: httpx.AsyncClient, tenant: Tenant, **kwargs: Any) -> httpx.Response:
    """The integration-status call, with `auth=` or `headers=` as given (none by default)."""
    return await call(client, "status", tenant, "", **kwargs)


async def fail(client: httpx.AsyncClient, tenant: Tenant, **kwargs: Any) -> None:
    """One failed authentication: a wrong secret unless other credentials are given."""
    kwargs.setdefault("auth", (tenant.auth[0], "wrong secret"))
    assert_error(await status(client, tenant, **kwargs), 401)


# Every way of failing counts: wrong, unknown, malformed, missing and bearer credentials.
FailedCall = Callable[[httpx.AsyncClient, Tenant], Awaitable[httpx.Response]]
FAILURES: dict[str, FailedCall] = {
    "wrong secret": lambda c, t: status(c, t, auth=(t.auth[0], "wrong secret")),
    "unknown key": lambda c, t: status(c, t, auth=("NOSUCHKEY", t.auth[1])),
    "malformed basic": lambda c, t: status(c, t, headers={"Authorization": "Basic !!!"}),
    "no credentials": lambda c, t: status(c, t),
    "unknown bearer token": lambda c, t: status(
        c, t, headers={"Authorization": "Bearer gmt_not-a-token-we-issued"}
    ),
    "token endpoint, wrong secret": lambda c, t: c.post(
        TOKEN_URL, data=GRANT, auth=(t.auth[0], "wrong secret")
    ),
    "token endpoint, no credentials": lambda c, t: c.post(TOKEN_URL, data=GRANT),
}


# ---------------------------------------------------------------------------------------------
# The threshold and the window


async def test_an_address_over_the_failure_limit_is_refused_until_the_minute_ends(
    tenant: Tenant, settings: Settings, counters: str | None, clock: FakeClock
) -> None:
    assert settings.auth_failures_per_minute == 20  # the default
    limited = dataclasses.replace(settings, redis_url=counters)
    async with app_client(limited, clock=clock) as client:
        for _ in range(19):
            await fail(client, tenant)
        # Not blocked yet, and a success does not count as a failure.
        assert (await status(client, tenant, auth=tenant.auth)).status_code == 200
        await fail(client, tenant)  # the twentieth is still a 401

        refused = await status(client, tenant, auth=tenant.auth)
        assert_rate_limited(
            refused, TO_NEXT_MINUTE, blocked_message("127.0.0.1", 20, TO_NEXT_MINUTE)
        )
        # Refused with wrong credentials too (not a 401 that would confirm a guess).
        wrong = await status(client, tenant, auth=(tenant.auth[0], "guess"))
        assert_rate_limited(wrong, TO_NEXT_MINUTE)

        # A second before the minute ends (13:46:59.25) it still is refused...
        clock.advance(TO_NEXT_MINUTE - 1)
        assert_rate_limited(
            await status(client, tenant, auth=tenant.auth), 1, blocked_message("127.0.0.1", 20, 1)
        )
        # ...and in the next minute the address is welcome, with twenty failures to spend.
        clock.advance(1)
        assert (await status(client, tenant, auth=tenant.auth)).status_code == 200
        for _ in range(20):
            await fail(client, tenant)
        assert_rate_limited(await status(client, tenant, auth=tenant.auth), 60)


def day_remaining(response: httpx.Response) -> int:
    found = re.search(r'"per-day";r=(\d+);', response.headers["RateLimit"])
    assert found, response.headers
    return int(found[1])


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
async def test_credentials_verified_moments_ago_are_refused_too(
    tenant: Tenant, settings: Settings, counters: str | None, clock: FakeClock, scheme: str
) -> None:
    """A repeat of credentials that just passed skips their verification (the authentication
    cache), and with Redis the address's check and the call's count are then one step: that
    step refuses the blocked address too, and counts nothing against the workspace."""
    three = dataclasses.replace(settings, redis_url=counters, auth_failures_per_minute=3)
    async with app_client(three, clock=clock) as client:
        if scheme == "basic":
            credentials: dict[str, Any] = {"auth": tenant.auth}
        else:
            credentials = {"headers": await bearer_token(client, tenant.auth)}
        first = await status(client, tenant, **credentials)  # verified, and remembered
        assert first.status_code == 200
        for _ in range(3):
            await fail(client, tenant)

        refused = await status(client, tenant, **credentials)
        assert_rate_limited(
            refused, TO_NEXT_MINUTE, blocked_message("127.0.0.1", 3, TO_NEXT_MINUTE)
        )

        clock.advance(TO_NEXT_MINUTE)
        welcome = await status(client, tenant, **credentials)
        assert welcome.status_code == 200
        # The refused call was not counted against the day.
        assert day_remaining(welcome) == day_remaining(first) - 1


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_every_kind_of_failed_authentication_counts(
    tenant: Tenant, settings: Settings, clock: FakeClock, kind: str
) -> None:
    three = dataclasses.replace(settings, auth_failures_per_minute=3)
    async with app_client(three, clock=clock) as client:
        for _ in range(3):
            failed = await FAILURES[kind](client, tenant)
            assert failed.status_code == 401, failed.text
        assert_rate_limited(
            await status(client, tenant, auth=tenant.auth),
            TO_NEXT_MINUTE,
            blocked_message("127.0.0.1", 3, TO_NEXT_MINUTE),
        )


async def test_the_number_of_failures_allowed_is_a_setting(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    from_env = Settings.from_env({"GONG_MEETINGS_AUTH_FAILURES_PER_MINUTE": "30"})
    assert from_env.auth_failures_per_minute == 30
    thirty = dataclasses.replace(settings, auth_failures_per_minute=30)
    async with app_client(thirty, clock=clock) as client:
        for _ in range(29):
            await fail(client, tenant)
        assert (await status(client, tenant, auth=tenant.auth)).status_code == 200
        await fail(client, tenant)
        assert_rate_limited(
            await status(client, tenant, auth=tenant.auth),
            TO_NEXT_MINUTE,
            "at most 30 a minute",
        )


async def test_a_blocked_address_leaves_other_addresses_alone(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    three = dataclasses.replace(settings, auth_failures_per_minute=3)
    async with (
        running_app(three, clock) as app,
        http_client(app) as local,
        http_client(app, OTHER_PEER) as other,
    ):
        for _ in range(3):
            await fail(other, tenant)
        assert_rate_limited(
            await status(other, tenant, auth=tenant.auth),
            TO_NEXT_MINUTE,
            blocked_message("10.0.0.7", 3, TO_NEXT_MINUTE),
        )
        assert (await status(local, tenant, auth=tenant.auth)).status_code == 200
        # The local address has its own three failures.
        for _ in range(3):
            await fail(local, tenant)
        assert_rate_limited(await status(local, tenant, auth=tenant.auth), TO_NEXT_MINUTE)


# ---------------------------------------------------------------------------------------------
# The token endpoint


async def test_a_blocked_address_gets_an_oauth_429_from_the_token_endpoint(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    three = dataclasses.replace(settings, auth_failures_per_minute=3)
    async with app_client(three, clock=clock) as client:
        # Errors that are not failed authentications (here a wrong grant type) do not count.
        for _ in range(5):
            wrong_grant = await client.post(
                TOKEN_URL, data={"grant_type": "password"}, auth=tenant.auth
            )
            assert wrong_grant.json()["error"] == "unsupported_grant_type", wrong_grant.text
        token = await bearer_token(client, tenant.auth)

        for _ in range(3):  # failures on the API block the token endpoint too
            await fail(client, tenant)
        refused = await client.post(TOKEN_URL, data=GRANT, auth=tenant.auth)
        assert refused.status_code == 429, refused.text
        assert refused.json() == {
            "error": "too_many_requests",
            "error_description": blocked_message("127.0.0.1", 3, TO_NEXT_MINUTE),
        }
        assert refused.headers["retry-after"] == str(TO_NEXT_MINUTE)
        assert refused.headers["cache-control"] == "no-store"
        # A token obtained before is refused as well while the address is blocked.
        assert_rate_limited(await status(client, tenant, headers=token), TO_NEXT_MINUTE)

        clock.advance(TO_NEXT_MINUTE)
        assert (await client.post(TOKEN_URL, data=GRANT, auth=tenant.auth)).status_code == 200
        assert (await status(client, tenant, headers=token)).status_code == 200


# ---------------------------------------------------------------------------------------------
# Proxies


def forwarded_for(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    three = dataclasses.replace(settings, auth_failures_per_minute=3)
    assert three.trusted_proxies == ()
    async with app_client(three, clock=clock, client=PROXY) as client:
        for _ in range(3):
            await fail(client, tenant, headers=forwarded_for("1.2.3.4"))
        # Claiming to be someone else does not escape the block on the peer's address.
        refused = await status(client, tenant, auth=tenant.auth, headers=forwarded_for("5.6.7.8"))
        assert_rate_limited(
            refused, TO_NEXT_MINUTE, blocked_message("127.0.0.1", 3, TO_NEXT_MINUTE)
        )


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    proxied = dataclasses.replace(
        settings, auth_failures_per_minute=3, trusted_proxies=("127.0.0.1",)
    )
    async with app_client(proxied, clock=clock, client=PROXY) as client:
        for _ in range(3):
            await fail(client, tenant, headers=forwarded_for("1.2.3.4"))
        refused = await status(client, tenant, auth=tenant.auth, headers=forwarded_for("1.2.3.4"))
        assert_rate_limited(refused, TO_NEXT_MINUTE, blocked_message("1.2.3.4", 3, TO_NEXT_MINUTE))

        # Another client behind the same proxy, and the proxy itself, are not blocked.
        other = await status(client, tenant, auth=tenant.auth, headers=forwarded_for("5.6.7.8"))
        assert other.status_code == 200, other.text
        assert (await status(client, tenant, auth=tenant.auth)).status_code == 200


async def test_x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    # Trusted proxies may be given as networks; 10.0.0.7 is not in this one.
    proxied = dataclasses.replace(
        settings, auth_failures_per_minute=3, trusted_proxies=("127.0.0.0/8",)
    )
    async with (
        running_app(proxied, clock) as app,
        http_client(app, OTHER_PEER) as untrusted,
        http_client(app, PROXY) as proxy,
    ):
        for _ in range(3):
            await fail(untrusted, tenant, headers=forwarded_for("1.2.3.4"))
        spoofed = await status(
            untrusted, tenant, auth=tenant.auth, headers=forwarded_for("5.6.7.8")
        )
        assert_rate_limited(spoofed, TO_NEXT_MINUTE, blocked_message("10.0.0.7", 3, TO_NEXT_MINUTE))
        # The client it named was not blocked: through the real proxy it gets in.
        named = await status(proxy, tenant, auth=tenant.auth, headers=forwarded_for("1.2.3.4"))
        assert named.status_code == 200, named.text
