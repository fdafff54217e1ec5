"""Where rate-limit counters live: in this process's memory, or in Redis through the `limits`
library's storage."""

import time
from collections.abc import Callable
from typing import Protocol

from limits.aio.storage import RedisStorage

# Redis trouble must cost a request little: these bound each connect and each command.
REDIS_TIMEOUT_SECONDS = 0.5
# How often keys whose time is up are dropped from memory.
_SWEEP_EVERY_SECONDS = 60.0


class Counters(Protocol):
    """The part of `limits`' storage interface the rate limiter uses."""

    async def incr(self, key: str, expiry: int) -> int: ...

    async def get(self, key: str) -> int: ...

    async def check(self) -> bool: ...


class LocalCounters:
    """Counters in this process's memory, each kept for `expiry` seconds from its first count.

    It does what `limits`' MemoryStorage does for one process, at a fraction of the cost: that
    takes an asyncio lock and looks for expired keys on every call, 35 µs for a call's two
    windows (bench/README.md). No lock is needed here, as the event loop runs one increment at a
    time, and the rate limiter's keys name their window, so an old key is never asked for again
    and a sweep now and then is enough to keep memory flat.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._expiries: dict[str, float] = {}
        self._next_sweep = clock() + _SWEEP_EVERY_SECONDS

    async def incr(self, key: str, expiry: int) -> int:
        return self.count(key, expiry)

    async def get(self, key: str) -> int:
        return self.peek(key)

    def count(self, key: str, expiry: int) -> int:
        """`incr` without a coroutine, for the rate limiter's every call (see RateLimiter)."""
        now = self._clock()
        if self._expiries.get(key, now) <= now:
            self._expiries[key] = now + expiry
            self._counts[key] = 1
            if now >= self._next_sweep:
                self._sweep(now)
            return 1
        count = self._counts[key] + 1
        self._counts[key] = count
        return count

    def peek(self, key: str) -> int:
        """`get` without a coroutine."""
        return self._counts[key] if self._expiries.get(key, 0.0) > self._clock() else 0

    async def check(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self._counts)

    def _sweep(self, now: float) -> None:
        for key in [key for key, expires in self._expiries.items() if expires <= now]:
            del self._expiries[key], self._counts[key]
        self._next_sweep = now + _SWEEP_EVERY_SECONDS


def counter_storage(redis_url: str | None) -> Counters:
    """Counters in this process's memory, or in Redis shared by every process that uses it."""
    if redis_url is None:
        return LocalCounters()
    # The `async+` prefix selects limits' asyncio storage; redis-py's client serves it.
    return RedisStorage(
        f"async+{redis_url}",
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix="gong-meetings",
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
