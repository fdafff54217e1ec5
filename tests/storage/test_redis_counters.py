"""The Redis counters (storage/counters.RedisCounters) against a real Redis: they count in the
keys, and with the expiries, that `limits`' Redis storage used before them, so processes of this
release and of the one before count together; and `admit` counts a call's windows in one
round trip with the rules of a refused call (nothing counted) and an exceeded window (the
windows after it not counted)."""

from collections.abc import Iterator

import pytest
import redis
from limits.aio.storage import RedisStorage

from gong_meetings.storage.counters import RedisCounters
from tests.redis import empty_redis, redis_url

FAILURES = "auth-failures/10.0.0.7/29000000"
SECOND = "workspace/1/per-second/1740000000"
DAY = "workspace/1/per-day/20138"


@pytest.fixture
def url() -> Iterator[str]:
    found = redis_url()
    empty_redis(found)
    yield found
    empty_redis(found)


def seconds_to_live(url: str, key: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.ttl("gong-meetings:" + key))


def limits_storage(url: str) -> RedisStorage:
    """The storage of the release before, as it was configured."""
    return RedisStorage(f"async+{url}", implementation="redispy", key_prefix="gong-meetings")


async def test_counts_in_the_keys_and_with_the_expiries_limits_storage_used(url: str) -> None:
    before = limits_storage(url)
    counters = RedisCounters(url)
    assert await before.incr(SECOND, 6) == 1
    assert await counters.incr(SECOND, 6) == 2
    assert await counters.admit(FAILURES, 20, [(SECOND, 6, 10), (DAY, 86_405, 100)]) == [0, 3, 1]
    assert await before.get(SECOND) == 3
    assert await before.get(DAY) == 1
    assert await counters.get(DAY) == 1
    assert 0 < seconds_to_live(url, SECOND) <= 6
    assert 86_000 < seconds_to_live(url, DAY) <= 86_405
    assert await counters.check()


async def test_a_blocked_address_is_refused_and_nothing_is_counted(url: str) -> None:
    before = limits_storage(url)
    for _ in range(3):
        await before.incr(FAILURES, 65)
    counters = RedisCounters(url)

    assert await counters.admit(FAILURES, 3, [(SECOND, 6, 10), (DAY, 86_405, 100)]) == [3]
    assert await counters.get(SECOND) == 0
    assert await counters.get(DAY) == 0
    assert await counters.admit(FAILURES, 4, [(SECOND, 6, 10), (DAY, 86_405, 100)]) == [3, 1, 1]


async def test_a_window_exceeded_stops_the_count_before_the_next(url: str) -> None:
    counters = RedisCounters(url)
    windows = [(SECOND, 6, 2), (DAY, 86_405, 100)]
    assert await counters.admit(FAILURES, 20, windows) == [0, 1, 1]
    assert await counters.admit(FAILURES, 20, windows) == [0, 2, 2]
    assert await counters.admit(FAILURES, 20, windows) == [0, 3]  # over the second's 2
    assert await counters.get(DAY) == 2
