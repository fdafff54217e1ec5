"""Fail open: while Redis cannot be reached, calls are served without limits and the trouble is
logged once a minute; when it answers again, the limits apply again by themselves.

The app is pointed at a port where nothing listens; later a redis-server of the test's own is
started on that port. The fake clock drives the logging interval and the retry.
"""

import dataclasses
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from gong_meetings.config import Settings
from gong_meetings.records import Quota
from gong_meetings.service.accounts import AccountService
from tests.helpers import Tenant, app_client, assert_error, make_tenant
from tests.helpers import call_operation as call
from tests.ratelimits import (
    SQLITE_ONLY,
    TO_MIDNIGHT,
    FakeClock,
    assert_no_rate_limit_headers,
    assert_rate_limited,
    windows,
)
from tests.redis import redis_server_binary
from tests.system.live import free_port

pytestmark = SQLITE_ONLY

LOGGER = "gong_meetings.ratelimits"
REDIS_START_DEADLINE_SECONDS = 10.0


@contextmanager
def redis_server(port: int) -> Iterator[None]:
    """A throwaway redis-server on 127.0.0.1:`port`, answering PING, stopped afterwards."""
    # No persistence: it starts empty and leaves no files behind.
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [redis_server_binary(), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + REDIS_START_DEADLINE_SECONDS
        while not _answers_ping(port):
            assert process.poll() is None, f"redis-server exited with {process.returncode}"
            assert time.monotonic() < deadline, "redis-server did not answer PING in time"
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers_ping(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.2) as client:
            return bool(client.ping())
    except redis.ConnectionError:
        return False


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


async def status(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    return await call(client, "status", tenant, "", auth=tenant.auth)


async def test_while_redis_is_down_calls_are_served_without_limits_until_it_answers_again(
    accounts: AccountService,
    settings: Settings,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis_server_binary()  # skips before anything starts if there is none
    port = free_port()
    tenant = make_tenant(accounts, "acme", quota=Quota(2, 3))
    unreachable = dataclasses.replace(
        settings, redis_url=f"redis://127.0.0.1:{port}/0", auth_failures_per_minute=2
    )
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with app_client(unreachable, clock=clock) as client:
        # Far past the quota (2 a second, 3 a day) and the failed-login limit (2 a minute), over
        # 50 s of the clock: no 429, no RateLimit fields (nothing is counted, so none would be
        # true; README "If Redis is unreachable"), and a single error logged.
        for _ in range(20):
            for _ in range(3):
                allowed = await status(client, tenant)
                assert allowed.status_code == 200, allowed.text
                assert_no_rate_limit_headers(allowed)
            wrong = await call(client, "status", tenant, "", auth=(tenant.auth[0], "wrong"))
            assert_error(wrong, 401)
            clock.advance(2.5)  # past the 1 s retry delay, so every round asks Redis again
        errors = logged(caplog, logging.ERROR)
        assert len(errors) == 1, errors
        assert "rate-limit storage failed, serving without limits" in errors[0]

        clock.advance(9)  # 59 s after the first error: still not repeated
        assert (await status(client, tenant)).status_code == 200
        assert len(logged(caplog, logging.ERROR)) == 1
        clock.advance(2)  # 61 s: logged again
        assert (await status(client, tenant)).status_code == 200
        assert len(logged(caplog, logging.ERROR)) == 2
        assert logged(caplog, logging.WARNING) == []

        with redis_server(port):
            # A failed storage is asked again a second later, not on every call in between.
            unasked = await status(client, tenant)
            assert unasked.status_code == 200, unasked.text
            assert_no_rate_limit_headers(unasked)
            clock.advance(1)  # 13:47:42.25, 62 s after the start
            first = await status(client, tenant)
            assert first.status_code == 200, first.text
            # Counting starts afresh: nothing was counted while Redis was away.
            assert windows(first) == {"per-second": (1, 1), "per-day": (2, TO_MIDNIGHT - 62)}
            recovered = logged(caplog, logging.WARNING)
            assert len(recovered) == 1 and "answers again" in recovered[0], recovered

            assert (await status(client, tenant)).status_code == 200
            assert_rate_limited(await status(client, tenant), 1, "may make 2 calls per second")
            clock.advance(1)
            assert (await status(client, tenant)).status_code == 200
            assert_rate_limited(
                await status(client, tenant), TO_MIDNIGHT - 63, "may make 3 calls per day"
            )
            # Failed logins are counted again too: 13:47:43.25, 17 s to the end of the minute.
            for _ in range(2):
                wrong = await call(client, "status", tenant, "", auth=(tenant.auth[0], "wrong"))
                assert_error(wrong, 401)
            assert_rate_limited(await status(client, tenant), 17, "too many failed authentications")
        assert len(logged(caplog, logging.ERROR)) == 2

        # Redis stopping while in use (its connections break) is served the same way.
        clock.advance(61)
        after = await status(client, tenant)
        assert after.status_code == 200, after.text
        assert_no_rate_limit_headers(after)
        assert len(logged(caplog, logging.ERROR)) == 3
