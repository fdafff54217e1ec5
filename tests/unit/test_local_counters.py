"""The in-memory rate-limit counters: counts per key, each for its own time, then gone."""

from gong_meetings.storage.counters import LocalCounters, counter_storage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_each_key_counts_on_its_own() -> None:
    counters = LocalCounters()
    assert [await counters.incr("a", 5) for _ in range(3)] == [1, 2, 3]
    assert await counters.incr("b", 5) == 1
    assert (await counters.get("a"), await counters.get("b"), await counters.get("c")) == (3, 1, 0)


async def test_a_count_lasts_its_expiry_from_the_first_increment() -> None:
    clock = Clock()
    counters = LocalCounters(clock)
    await counters.incr("a", 10)
    clock.now += 9.9
    assert await counters.incr("a", 10) == 2  # a later increment does not extend it
    clock.now += 0.1
    assert await counters.get("a") == 0
    assert await counters.incr("a", 10) == 1


async def test_expired_keys_are_swept_from_memory() -> None:
    clock = Clock()
    counters = LocalCounters(clock)
    for window in range(100):
        await counters.incr(f"per-second/{window}", 6)
        clock.now += 1
    # Sweeps run at most once a minute, so at most a minute's keys and the live ones remain.
    assert len(counters) <= 66
    clock.now += 120
    await counters.incr("fresh", 6)
    assert len(counters) == 1


async def test_without_redis_the_counters_are_local() -> None:
    assert isinstance(counter_storage(None), LocalCounters)
    assert await counter_storage(None).check() is True
