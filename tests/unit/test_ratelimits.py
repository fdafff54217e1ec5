"""The rate limiter on its own: fixed windows, the RateLimit headers, workspace quotas, failed
logins per address, and serving without limits while the counter storage fails.

Counters live in memory (LocalCounters, what `serve` uses without Redis), or in a `limits`
storage made to fail; time is a fake clock the tests move.
"""

import logging

import pytest
from limits.aio.storage import MemoryStorage
from limits.errors import StorageError

from gong_meetings.errors import RateLimited
from gong_meetings.records import Caller, Quota
from gong_meetings.service.ratelimits import (
    RateLimiter,
    Window,
    _window_index,
    policy_header,
    rate_limit_headers,
    raw_rate_limit_headers,
)
from gong_meetings.storage.counters import LocalCounters
from tests.ratelimits import FakeClock

DAY = 86_400
# Midnight UTC, 2027-01-15: a whole number of days since the epoch.
MIDNIGHT = 20_833 * DAY
assert MIDNIGHT % DAY == 0
LOGGER = "gong_meetings.ratelimits"


def caller(per_second: int = 3, per_day: int = 10_000, workspace_id: int = 1) -> Caller:
    return Caller(workspace_id, "acme", quota=Quota(per_second, per_day))


# --- _window_index -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "seconds", "expected"),
    [
        # Seconds: any moment inside a second has that second's index and 1 second to go.
        (0.0, 1, (0, 1)),
        (10.0, 1, (10, 1)),
        (10.25, 1, (10, 1)),
        (10.999, 1, (10, 1)),
        (MIDNIGHT + 0.5, 1, (MIDNIGHT, 1)),
        # Minutes.
        (120.0, 60, (2, 60)),
        (120.4, 60, (2, 60)),  # 59.6 seconds left: rounded up, never down to an early retry
        (150.0, 60, (2, 30)),
        (179.0, 60, (2, 1)),
        (179.9, 60, (2, 1)),
        (180.0, 60, (3, 60)),
        # Days: exactly at midnight the whole day is ahead.
        (MIDNIGHT, DAY, (MIDNIGHT // DAY, DAY)),
        (MIDNIGHT + 0.5, DAY, (MIDNIGHT // DAY, DAY)),
        (MIDNIGHT + 1, DAY, (MIDNIGHT // DAY, DAY - 1)),
        (MIDNIGHT + 3_600, DAY, (MIDNIGHT // DAY, DAY - 3_600)),
        (MIDNIGHT + DAY - 1, DAY, (MIDNIGHT // DAY, 1)),
        (MIDNIGHT + DAY - 0.001, DAY, (MIDNIGHT // DAY, 1)),
        (MIDNIGHT + DAY, DAY, (MIDNIGHT // DAY + 1, DAY)),
    ],
)
def test_window_index_and_whole_seconds_to_its_end(
    now: float, seconds: int, expected: tuple[int, int]
) -> None:
    assert _window_index(now, seconds) == expected


def test_waiting_the_reset_always_reaches_the_next_window() -> None:
    for step in range(0, 1000):
        now = MIDNIGHT + step * 86.3997
        index, reset = _window_index(now, DAY)
        assert 1 <= reset <= DAY
        assert _window_index(now + reset, DAY)[0] == index + 1, now
        assert _window_index(now + reset - 1, DAY)[0] == index or reset == 1, now


# --- headers -------------------------------------------------------------------------------


def test_policy_header_lists_each_quota_and_window() -> None:
    assert policy_header([("per-second", 3, 1), ("per-day", 10_000, DAY)]) == (
        '"per-second";q=3;w=1, "per-day";q=10000;w=86400'
    )
    assert policy_header([("per-minute", 20, 60)]) == '"per-minute";q=20;w=60'
    assert policy_header([]) == ""


def test_rate_limit_headers_report_the_workspace_quota_and_what_remains() -> None:
    windows = [
        Window("per-second", 5, 1, 4, 1),
        Window("per-day", 700, DAY, 650, 3_600),
    ]
    assert rate_limit_headers(caller(5, 700), windows) == {
        "RateLimit-Policy": '"per-second";q=5;w=1, "per-day";q=700;w=86400',
        "RateLimit": '"per-second";r=4;t=1, "per-day";r=650;t=3600',
    }


def test_rate_limit_headers_without_windows_are_none_at_all() -> None:
    # No window counted means the counters were unreachable: no claim about limits is made.
    assert rate_limit_headers(caller(), []) == {}
    assert raw_rate_limit_headers(caller(), []) == []


def test_raw_rate_limit_headers_are_the_same_as_asgi_writes_them() -> None:
    windows = [Window("per-second", 5, 1, 0, 1), Window("per-day", 700, DAY, 12, 59)]
    assert raw_rate_limit_headers(caller(5, 700), windows) == [
        (b"ratelimit-policy", b'"per-second";q=5;w=1, "per-day";q=700;w=86400'),
        (b"ratelimit", b'"per-second";r=0;t=1, "per-day";r=12;t=59'),
    ]


# --- charge --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MIDNIGHT + 3_600.25)  # 01:00:00.25 UTC: 82800 seconds of the day left


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(LocalCounters(), 20, clock)


async def test_charge_counts_down_each_window(limiter: RateLimiter) -> None:
    metered = caller(3, 5)
    assert await limiter.charge(metered) == [
        Window("per-second", 3, 1, 2, 1),
        Window("per-day", 5, DAY, 4, 82_800),
    ]
    assert [w.remaining for w in await limiter.charge(metered)] == [1, 3]
    assert [w.remaining for w in await limiter.charge(metered)] == [0, 2]


async def test_charge_refuses_the_call_past_the_per_second_limit(limiter: RateLimiter) -> None:
    metered = caller(3, 5)
    for _ in range(3):
        await limiter.charge(metered)

    with pytest.raises(RateLimited) as raised:
        await limiter.charge(metered)

    refused = raised.value
    assert refused.status_code == 429
    assert refused.messages == [
        "rate limit exceeded: workspace 'acme' may make 3 calls per second; retry after 1 second"
    ]
    assert refused.headers == {
        "Retry-After": "1",
        "RateLimit-Policy": '"per-second";q=3;w=1, "per-day";q=5;w=86400',
        "RateLimit": '"per-second";r=0;t=1',
    }


async def test_a_per_second_refusal_does_not_use_up_the_day(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    metered = caller(2, 5)
    await limiter.charge(metered)
    await limiter.charge(metered)
    for _ in range(10):  # all refused within the same second
        with pytest.raises(RateLimited, match="per second"):
            await limiter.charge(metered)

    clock.now += 1
    # Two calls so far today, not twelve.
    assert await limiter.charge(metered) == [
        Window("per-second", 2, 1, 1, 1),
        Window("per-day", 5, DAY, 2, 82_799),
    ]


async def test_charge_refuses_the_call_past_the_daily_limit_until_midnight(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    metered = caller(100, 3)
    for remaining in (2, 1, 0):
        assert (await limiter.charge(metered))[1].remaining == remaining
        clock.now += 600

    with pytest.raises(RateLimited) as raised:
        await limiter.charge(metered)
    # 01:30:00.25: the day restarts in 81000 seconds (rounded up).
    assert raised.value.status_code == 429
    assert raised.value.messages == [
        "rate limit exceeded: workspace 'acme' may make 3 calls per day"
        " (the daily count restarts at 00:00 UTC); retry after 81000 seconds"
    ]
    assert raised.value.headers == {
        "Retry-After": "81000",
        "RateLimit-Policy": '"per-second";q=100;w=1, "per-day";q=3;w=86400',
        "RateLimit": '"per-second";r=99;t=1, "per-day";r=0;t=81000',
    }

    clock.now = MIDNIGHT + DAY - 0.5
    with pytest.raises(RateLimited, match=r"retry after 1 second$"):
        await limiter.charge(metered)

    clock.now = MIDNIGHT + DAY  # midnight: a new day, the whole quota again
    assert await limiter.charge(metered) == [
        Window("per-second", 100, 1, 99, 1),
        Window("per-day", 3, DAY, 2, DAY),
    ]


async def test_a_quota_of_one_is_worded_in_the_singular(limiter: RateLimiter) -> None:
    single = caller(1, 1)
    await limiter.charge(single)
    with pytest.raises(RateLimited) as raised:
        await limiter.charge(single)
    assert raised.value.messages == [
        "rate limit exceeded: workspace 'acme' may make 1 call per second; retry after 1 second"
    ]


async def test_workspaces_are_counted_apart(limiter: RateLimiter) -> None:
    first, second = caller(1, 10, workspace_id=1), caller(1, 10, workspace_id=2)
    await limiter.charge(first)
    with pytest.raises(RateLimited):
        await limiter.charge(first)
    assert [w.remaining for w in await limiter.charge(second)] == [0, 9]


async def test_limiters_sharing_a_storage_share_the_counts(clock: FakeClock) -> None:
    """What several processes on one Redis rely on: the counts live in the storage."""
    storage = LocalCounters()
    one, two = RateLimiter(storage, 20, clock), RateLimiter(storage, 20, clock)
    metered = caller(2, 100)
    await one.charge(metered)
    await two.charge(metered)
    with pytest.raises(RateLimited):
        await one.charge(metered)


async def test_calls_made_today_count_against_a_changed_daily_limit(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    """`workspaces update` takes effect on running servers: the calls already made today
    still count, whether the daily limit went up or down."""
    for _ in range(5):
        await limiter.charge(caller(100, 5))
        clock.now += 1

    # Raised from 5 to 7: two more calls today, not a fresh allowance of 7.
    assert (await limiter.charge(caller(100, 7)))[1].remaining == 1
    clock.now += 1
    assert (await limiter.charge(caller(100, 7)))[1].remaining == 0
    clock.now += 1
    with pytest.raises(RateLimited, match="7 calls per day"):
        await limiter.charge(caller(100, 7))

    # Lowered below what was used: refused at once, not a fresh allowance of 3.
    clock.now += 1
    with pytest.raises(RateLimited, match="3 calls per day"):
        await limiter.charge(caller(100, 3))


# --- failed authentications per address ---------------------------------------------------


async def _outcome(limiter: RateLimiter, metered: Caller) -> list[Window] | tuple[str, dict]:
    try:
        return await limiter.charge(metered)
    except RateLimited as refused:
        return refused.messages[0], dict(refused.headers)


async def test_counters_in_memory_count_as_keyed_counters_do() -> None:
    """LocalCounters counts a workspace's calls as two numbers, not by key as Redis does: the
    same calls at the same moments get the same windows and the same refusals from both,
    across seconds, a change of quota and midnight."""
    clock = FakeClock(MIDNIGHT - 2.5)
    in_memory = RateLimiter(LocalCounters(), 20, clock)
    keyed = RateLimiter(MemoryStorage(), 20, clock)  # `limits`' storage: counted by key
    outcomes = []
    for step in range(40):
        clock.now += [0.0, 0.25, 0.0, 0.5][step % 4]
        metered = caller(3, 7 if step < 20 else 9)
        outcome = await _outcome(in_memory, metered)
        assert outcome == await _outcome(keyed, metered), (step, clock.now)
        outcomes.append(outcome)
    # The sequence went through every case: passed, refused by the second and by the day.
    assert any(isinstance(o, list) and o[1].reset_seconds == DAY for o in outcomes)
    assert any(isinstance(o, tuple) and "per second" in o[0] for o in outcomes)
    assert any(isinstance(o, tuple) and "per day" in o[0] for o in outcomes)


async def test_an_address_is_refused_once_it_reaches_the_failure_limit(clock: FakeClock) -> None:
    clock.now = MIDNIGHT + 120 + 15  # 15 seconds into a minute
    limiter = RateLimiter(LocalCounters(), 3, clock)
    address = "198.51.100.7"

    for _ in range(2):
        await limiter.refuse_if_blocked(address)
        await limiter.count_failure(address)
    await limiter.refuse_if_blocked(address)  # two failures of three: still let in
    await limiter.count_failure(address)

    with pytest.raises(RateLimited) as raised:
        await limiter.refuse_if_blocked(address)
    assert raised.value.status_code == 429
    assert raised.value.messages == [
        "too many failed authentications from 198.51.100.7: at most 3 a minute;"
        " retry after 45 seconds"
    ]
    assert raised.value.headers == {"Retry-After": "45"}

    await limiter.refuse_if_blocked("198.51.100.8")  # another address is not affected

    clock.now = MIDNIGHT + 180 - 0.5
    with pytest.raises(RateLimited, match=r"retry after 1 second$"):
        await limiter.refuse_if_blocked(address)
    clock.now = MIDNIGHT + 180  # the next minute: let in again
    await limiter.refuse_if_blocked(address)


async def test_asking_whether_blocked_does_not_count_as_a_failure(clock: FakeClock) -> None:
    limiter = RateLimiter(LocalCounters(), 1, clock)
    for _ in range(10):
        await limiter.refuse_if_blocked("198.51.100.7")
    await limiter.count_failure("198.51.100.7")
    with pytest.raises(RateLimited):
        await limiter.refuse_if_blocked("198.51.100.7")


async def test_failures_and_workspace_calls_are_counted_apart(clock: FakeClock) -> None:
    limiter = RateLimiter(LocalCounters(), 1, clock)
    await limiter.count_failure("1")
    assert [w.remaining for w in await limiter.charge(caller(2, 2))] == [1, 1]
    with pytest.raises(RateLimited, match="failed authentications"):
        await limiter.refuse_if_blocked("1")


# --- the storage failing -------------------------------------------------------------------


class FlakyStorage(MemoryStorage):
    """Counters in memory that fail, as an unreachable Redis does, while `failing` is set."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.failing = True
        self.attempts = 0

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.attempts += 1
        if self.failing:
            raise self.error
        return await super().incr(key, expiry, amount)

    async def get(self, key: str) -> int:
        self.attempts += 1
        if self.failing:
            raise self.error
        return await super().get(key)


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == level]


@pytest.mark.parametrize(
    "error",
    [
        StorageError(ConnectionError("Error 111 connecting to redis:6379. Connection refused.")),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("Timeout reading from redis:6379"),
    ],
)
async def test_while_the_storage_fails_calls_are_served_without_limits(
    caplog: pytest.LogCaptureFixture, clock: FakeClock, error: BaseException
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    storage = FlakyStorage(error)
    limiter = RateLimiter(storage, 1, clock)
    metered = caller(1, 1)
    start = clock.now

    for _ in range(5):  # far past the limits, all admitted
        assert await limiter.charge(metered) == []
        await limiter.count_failure("198.51.100.7")
        await limiter.refuse_if_blocked("198.51.100.7")
    (logged,) = records(caplog, logging.ERROR)
    assert "rate-limit storage failed, serving without limits" in logged.getMessage()
    assert "Connection refused" in logged.getMessage() or "Timeout" in logged.getMessage()
    # Tried once; then left alone for a second rather than tried on every call.
    assert storage.attempts == 1

    # Tried again each second, but the error is logged once a minute.
    for second in range(1, 60):
        clock.now = start + second
        assert await limiter.charge(metered) == []
    assert storage.attempts == 60
    assert len(records(caplog, logging.ERROR)) == 1
    clock.now = start + 60
    assert await limiter.charge(metered) == []
    assert len(records(caplog, logging.ERROR)) == 2
    assert records(caplog, logging.WARNING) == []

    # It answers again: not tried until a second after the last failure ...
    storage.failing = False
    clock.now = start + 60.5
    assert await limiter.charge(metered) == []
    assert storage.attempts == 61
    # ... then counting resumes, from nothing (the calls in the outage were not counted).
    clock.now = start + 61
    assert await limiter.charge(metered) == [
        Window("per-second", 1, 1, 0, 1),
        Window("per-day", 1, DAY, 0, 82_800 - 61),
    ]
    (recovered,) = records(caplog, logging.WARNING)
    assert "rate-limit storage answers again" in recovered.getMessage()
    with pytest.raises(RateLimited):
        await limiter.charge(metered)
    assert len(records(caplog, logging.WARNING)) == 1
    assert len(records(caplog, logging.ERROR)) == 2


async def test_a_storage_that_fails_again_later_is_logged_again(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    storage = FlakyStorage(StorageError(ConnectionError("down")))
    storage.failing = False
    limiter = RateLimiter(storage, 20, clock)
    metered = caller(100, 100)

    assert len(await limiter.charge(metered)) == 2
    assert records(caplog, logging.WARNING) == []  # nothing recovered: it never failed

    storage.failing = True
    assert await limiter.charge(metered) == []
    assert len(records(caplog, logging.ERROR)) == 1
    storage.failing = False
    clock.now += 1
    assert [w.remaining for w in await limiter.charge(metered)] == [99, 98]
    assert len(records(caplog, logging.WARNING)) == 1
