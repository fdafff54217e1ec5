"""Rate limits per workspace: calls per second and per UTC day, and the RateLimit headers.

A fake clock moves through the windows, so no test sleeps to pass one (only the test of a
limit changed while running waits, for the credential cache). The tests about counting run
on both counter storages, in memory and in Redis; the database matters only to the first.
"""

import asyncio
import dataclasses
import time

import httpx
import pytest

from gong_meetings.config import Settings
from gong_meetings.records import Quota
from gong_meetings.service.accounts import AccountService
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    create_meeting,
    make_tenant,
    meeting_body,
    stored_meetings,
)
from tests.helpers import call_operation as call
from tests.ratelimits import (
    SQLITE_ONLY,
    TO_MIDNIGHT,
    FakeClock,
    assert_no_rate_limit_headers,
    assert_rate_limited,
    bearer_token,
    policy,
    windows,
)

SUCCESS = {"create": 201, "update": 200, "delete": 200, "status": 200}
STATUS_SCOPE = "api:meetings:integration:status"
NEVER_EXISTED = "1234567890123456789"
GONG_QUOTA = Quota(3, 10_000)


def limited(settings: Settings, counters: str | None) -> Settings:
    """`settings` with the rate-limit counters in memory (None) or in the Redis at `counters`."""
    return dataclasses.replace(settings, redis_url=counters)


async def prepare_meetings(
    client: httpx.AsyncClient, tenant: Tenant, clock: FakeClock, count: int
) -> list[str]:
    """`count` meetings, one per second so that the limit allows them; the clock is then at the
    start of a second nothing has been counted in."""
    ids = []
    for _ in range(count):
        ids.append((await create_meeting(client, tenant))["meetingId"])
        clock.advance(1)
    return ids


async def status_call(
    client: httpx.AsyncClient, tenant: Tenant, auth: tuple[str, str] | None = None
) -> httpx.Response:
    return await call(client, "status", tenant, "", auth=auth or tenant.auth)


# ---------------------------------------------------------------------------------------------
# Per second


@pytest.mark.parametrize("operation", list(SUCCESS))
async def test_the_fourth_call_in_a_second_is_refused_until_the_next_second(
    accounts: AccountService,
    settings: Settings,
    database_url: str,
    counters: str | None,
    clock: FakeClock,
    operation: str,
) -> None:
    tenant = make_tenant(accounts, "acme", quota=GONG_QUOTA)
    async with app_client(limited(settings, counters), clock=clock) as client:
        token = await bearer_token(client, tenant.auth)
        ids = await prepare_meetings(client, tenant, clock, 4)

        async def attempt(meeting_id: str, credential: str) -> httpx.Response:
            if credential == "bearer":
                return await call(client, operation, tenant, meeting_id, headers=token)
            return await call(client, operation, tenant, meeting_id, auth=tenant.auth)

        # Basic and bearer calls of a workspace are counted together.
        for n, credential in enumerate(("basic", "bearer", "basic")):
            allowed = await attempt(ids[n], credential)
            assert allowed.status_code == SUCCESS[operation], allowed.text
            assert windows(allowed)["per-second"] == (2 - n, 1)

        refused = await attempt(ids[3], "bearer")
        assert_rate_limited(
            refused,
            1,
            "rate limit exceeded: workspace 'acme' may make 3 calls per second;"
            " retry after 1 second",
        )
        assert refused.headers["ratelimit-policy"] == policy(3, 10_000)
        assert windows(refused)["per-second"] == (0, 1)

        # Waiting exactly Retry-After is enough; the refused call did nothing, so it can be
        # made again (a delete that had happened would now be a 404).
        clock.advance(int(refused.headers["retry-after"]))
        retried = await attempt(ids[3], "bearer")
        assert retried.status_code == SUCCESS[operation], retried.text
        assert windows(retried)["per-second"] == (2, 1)
    left = {"create": 4 + 3 + 1, "delete": 0}.get(operation, 4)
    assert len(stored_meetings(database_url)) == left


@SQLITE_ONLY
async def test_calls_that_fail_after_authentication_count(
    accounts: AccountService, settings: Settings, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=GONG_QUOTA)
    async with app_client(settings, clock=clock) as client:
        status_only = await bearer_token(client, tenant.auth, STATUS_SCOPE)
        failures = [
            await client.post("/v2/meetings", json={"title": 5}, auth=tenant.auth),
            await client.delete(f"/v2/meetings/{NEVER_EXISTED}", auth=tenant.auth),
            await client.post(
                "/v2/meetings", json=meeting_body(tenant.organizer), headers=status_only
            ),
        ]
        for failure, status, remaining in zip(failures, (400, 404, 403), (2, 1, 0), strict=True):
            assert_error(failure, status)
            assert windows(failure)["per-second"] == (remaining, 1)
        assert_rate_limited(await status_call(client, tenant), 1, "3 calls per second")


@SQLITE_ONLY
async def test_bearer_calls_count_and_the_token_endpoint_does_not(
    accounts: AccountService, settings: Settings, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=GONG_QUOTA)
    async with app_client(settings, clock=clock) as client:
        # More tokens in this second than the workspace may make calls: none of them counts.
        tokens = [await bearer_token(client, tenant.auth) for _ in range(5)]
        calls = [
            await call(client, "status", tenant, "", headers=tokens[0]),
            await status_call(client, tenant),
            await call(client, "status", tenant, "", headers=tokens[1]),
        ]
        assert [(c.status_code, windows(c)["per-second"][0]) for c in calls] == [
            (200, 2),
            (200, 1),
            (200, 0),
        ]
        # Basic and bearer calls of one workspace share its count.
        refused = await call(client, "status", tenant, "", headers=tokens[2])
        assert_rate_limited(refused, 1, "workspace 'acme' may make 3 calls per second")

        clock.advance(1)
        allowed = await call(client, "status", tenant, "", headers=tokens[2])
        assert allowed.status_code == 200, allowed.text
        assert windows(allowed)["per-second"] == (2, 1)


# ---------------------------------------------------------------------------------------------
# Per day


@SQLITE_ONLY
async def test_the_sixth_call_in_a_day_is_refused_until_00_00_utc(
    accounts: AccountService, settings: Settings, counters: str | None, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=Quota(1000, 5))
    async with app_client(limited(settings, counters), clock=clock) as client:
        # One call an hour: the day's count goes down, and so does the time to its end.
        for hour in range(5):
            allowed = await status_call(client, tenant)
            assert allowed.status_code == 200, allowed.text
            assert windows(allowed) == {
                "per-second": (999, 1),
                "per-day": (4 - hour, TO_MIDNIGHT - 3600 * hour),
            }
            clock.advance(3600)

        refused = await status_call(client, tenant)
        to_midnight = TO_MIDNIGHT - 3600 * 5  # 18,800 s: 18:46:40.25 to 00:00
        assert_rate_limited(
            refused,
            to_midnight,
            "rate limit exceeded: workspace 'acme' may make 5 calls per day (the daily count"
            f" restarts at 00:00 UTC); retry after {to_midnight} seconds",
        )
        assert refused.headers["ratelimit-policy"] == policy(1000, 5)
        assert windows(refused)["per-day"] == (0, to_midnight)

        # A second before the end of the day (23:59:59.25) it is still refused...
        clock.advance(to_midnight - 1)
        assert_rate_limited(await status_call(client, tenant), 1, "5 calls per day")
        # ...and at 00:00:00.25 the new day has all five calls.
        clock.advance(1)
        allowed = await status_call(client, tenant)
        assert allowed.status_code == 200, allowed.text
        assert windows(allowed) == {"per-second": (999, 1), "per-day": (4, 86_400)}


@SQLITE_ONLY
async def test_calls_refused_per_second_do_not_use_the_daily_quota(
    accounts: AccountService, settings: Settings, counters: str | None, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=Quota(2, 4))
    async with app_client(limited(settings, counters), clock=clock) as client:
        day_remaining = []
        for _ in range(2):  # two seconds, two calls each, several refused in between
            for _ in range(2):
                allowed = await status_call(client, tenant)
                assert allowed.status_code == 200, allowed.text
                day_remaining.append(windows(allowed)["per-day"][0])
            for _ in range(5):
                assert_rate_limited(await status_call(client, tenant), 1, "2 calls per second")
            clock.advance(1)
        assert day_remaining == [3, 2, 1, 0]
        assert_rate_limited(
            await status_call(client, tenant), TO_MIDNIGHT - 2, "may make 4 calls per day"
        )


# ---------------------------------------------------------------------------------------------
# Headers


@SQLITE_ONLY
async def test_rate_limit_headers_state_the_workspaces_quota_and_what_remains(
    accounts: AccountService, settings: Settings, clock: FakeClock
) -> None:
    acme = make_tenant(accounts, "acme", quota=GONG_QUOTA)
    globex = make_tenant(accounts, "globex", quota=Quota(7, 250))
    async with app_client(settings, clock=clock) as client:
        created = await call(client, "create", acme, "", auth=acme.auth)
        assert created.status_code == 201, created.text
        assert created.headers["ratelimit-policy"] == policy(3, 10_000)
        assert created.headers["ratelimit"] == '"per-second";r=2;t=1, "per-day";r=9999;t=36800'

        clock.advance(0.5)  # 13:46:40.75, still the same second
        invalid = await client.post("/v2/meetings", json={"title": ""}, auth=acme.auth)
        assert_error(invalid, 400)
        assert invalid.headers["ratelimit-policy"] == policy(3, 10_000)
        assert invalid.headers["ratelimit"] == '"per-second";r=1;t=1, "per-day";r=9998;t=36800'

        clock.advance(0.5)  # 13:46:41.25: a new second, and one second less of the day
        status = await status_call(client, acme)
        assert status.status_code == 200, status.text
        assert status.headers["ratelimit"] == '"per-second";r=2;t=1, "per-day";r=9997;t=36799'

        other = await status_call(client, globex)
        assert other.headers["ratelimit-policy"] == policy(7, 250)
        assert other.headers["ratelimit"] == '"per-second";r=6;t=1, "per-day";r=249;t=36799'

        # Nobody was authenticated, so there is no workspace to report on.
        unauthorized = await status_call(client, acme, auth=(acme.auth[0], "wrong"))
        assert_error(unauthorized, 401)
        assert_no_rate_limit_headers(unauthorized)


# ---------------------------------------------------------------------------------------------
# Per workspace


@SQLITE_ONLY
async def test_limits_are_per_workspace_and_shared_by_its_keys(
    accounts: AccountService, settings: Settings, counters: str | None, clock: FakeClock
) -> None:
    acme = make_tenant(accounts, "acme", quota=Quota(3, 4))
    globex = make_tenant(accounts, "globex", quota=Quota(3, 4))
    second_key = accounts.create_key("acme")
    acme_keys = [acme.auth, (second_key.access_key, second_key.access_key_secret)]
    async with app_client(limited(settings, counters), clock=clock) as client:
        for auth in (acme_keys[0], acme_keys[1], acme_keys[0]):
            assert (await status_call(client, acme, auth)).status_code == 200
        refused = await status_call(client, acme, acme_keys[1])
        assert_rate_limited(refused, 1, "workspace 'acme' may make 3 calls per second")

        # In the same second, globex has all of its own calls.
        for _ in range(3):
            assert (await status_call(client, globex)).status_code == 200
        assert_rate_limited(await status_call(client, globex), 1, "workspace 'globex'")

        # acme spends its day; globex still has its fourth call.
        clock.advance(1)
        assert (await status_call(client, acme)).status_code == 200
        clock.advance(1)
        assert_rate_limited(
            await status_call(client, acme, acme_keys[1]),
            TO_MIDNIGHT - 2,
            "workspace 'acme' may make 4 calls per day",
        )
        allowed = await status_call(client, globex)
        assert allowed.status_code == 200, allowed.text
        assert windows(allowed)["per-day"] == (0, TO_MIDNIGHT - 2)


# ---------------------------------------------------------------------------------------------
# Changed while running

CACHE_SECONDS = 0.2
PROPAGATION_DEADLINE_SECONDS = 5.0


@SQLITE_ONLY
async def test_a_limit_changed_while_running_applies_within_the_credential_cache_time(
    accounts: AccountService, settings: Settings, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=Quota(3, 1000))
    fast_cache = dataclasses.replace(settings, auth_cache_seconds=CACHE_SECONDS)
    async with app_client(fast_cache, clock=clock) as client:
        token = await bearer_token(client, tenant.auth)

        async def both() -> list[httpx.Response]:
            """A Basic and a bearer call, in a second of their own (so the old limit of 3 a
            second never refuses them); both credentials are cached with their quota."""
            responses = [
                await status_call(client, tenant),
                await call(client, "status", tenant, "", headers=token),
            ]
            assert [r.status_code for r in responses] == [200, 200], responses[-1].text
            clock.advance(1)
            return responses

        made_today = 0
        for first in await both():
            made_today += 1
            assert first.headers["ratelimit-policy"] == policy(3, 1000)

        accounts.update_workspace("acme", calls_per_second=5, calls_per_day=100)
        changed = time.monotonic()
        while True:
            responses = await both()
            made_today += 2
            if all(r.headers["ratelimit-policy"] == policy(5, 100) for r in responses):
                break
            elapsed = time.monotonic() - changed
            assert elapsed < PROPAGATION_DEADLINE_SECONDS, [r.headers for r in responses]
            await asyncio.sleep(CACHE_SECONDS / 4)

        # The calls already made today count against the new daily limit: it is not a fresh
        # allowance of 100.
        assert windows(responses[-1])["per-day"][0] == 100 - made_today
        # Five calls in a second now, where three were allowed before.
        for _ in range(5):
            assert (await status_call(client, tenant)).status_code == 200
        assert_rate_limited(await status_call(client, tenant), 1, "may make 5 calls per second")
