"""Where rate-limit counters live: in this process's memory, or in Redis, shared by every
process that uses it."""

import time
from collections.abc import Callable, Sequence
from typing import Protocol, cast

import redis.asyncio
from limits.errors import StorageError
from redis.exceptions import RedisError

# Redis trouble must cost a request little: these bound each connect and each command.
REDIS_TIMEOUT_SECONDS = 0.5
# How often keys whose time is up are dropped from memory.
_SWEEP_EVERY_SECONDS = 60.0


class Counters(Protocol):
    """The part of `limits`' storage interface the rate limiter uses."""

    async def incr(self, key: str, expiry: int) -> int: ...

    async def get(self, key: str) -> int: ...

    async def check(self) -> bool: ...


# What a counter storage raises when it cannot count: the rate limiter then serves without
# limits (service/ratelimits.py). StorageError is what `limits`' own storages raise.
COUNTERS_UNAVAILABLE = (StorageError, RedisError, OSError, TimeoutError)


class WorkspaceCalls:
    """A workspace's API calls counted in memory: in one second, and in the UTC day it falls
    in. The same counts as the keyed counters' two windows, kept as two numbers: making the
    two keys and counting them by key was most of a call's rate limiting (bench/README.md)."""

    __slots__ = ("day", "in_day", "in_second", "second")

    def __init__(self) -> None:
        self.second = self.day = -1
        self.in_second = self.in_day = 0

    def move_to(self, second: int, day: int) -> None:
        """Start counting in `second` of `day`; a window left behind starts again at 0."""
        if second != self.second:
            self.second = second
            self.in_second = 0
        if day != self.day:
            self.day = day
            self.in_day = 0


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
        self._workspaces: dict[int, WorkspaceCalls] = {}

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

    def workspace_calls(self, workspace_id: int) -> WorkspaceCalls:
        """The workspace's calls in this second's window and in today's (see RateLimiter)."""
        calls = self._workspaces.get(workspace_id)
        if calls is None:
            calls = self._workspaces[workspace_id] = WorkspaceCalls()
        return calls

    async def check(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self._counts)

    def _sweep(self, now: float) -> None:
        for key in [key for key, expires in self._expiries.items() if expires <= now]:
            del self._expiries[key], self._counts[key]
        self._next_sweep = now + _SWEEP_EVERY_SECONDS


# The same keys, and the same counting, as the `limits` library's Redis storage, which kept
# these counters before: instances of this release and of the one before count together.
_KEY_PREFIX = "gong-meetings:"
# `limits`' incr_expire.lua: a count's expiry is set when the count is made.
_INCR = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return current
"""
# A call whose caller is known, in one round trip: refused (and not counted) while its
# address has spent its failed logins; else counted in each window in turn, up to the first
# window it exceeds. KEYS: the failures' key, then each window's. ARGV: the failures allowed,
# then each window's expiry and limit. Returns the failures, then each window's count.
_ADMIT = """
local failures = tonumber(redis.call("get", KEYS[1]) or "0")
local counts = {failures}
if failures >= tonumber(ARGV[1]) then
    return counts
end
for index = 2, #KEYS do
    local count = redis.call("incr", KEYS[index])
    if count == 1 then
        redis.call("expire", KEYS[index], ARGV[2 * index - 2])
    end
    counts[index] = count
    if count > tonumber(ARGV[2 * index - 1]) then
        break
    end
end
return counts
"""


class RedisCounters:
    """Counters in Redis, through redis-py's asyncio client.

    `admit` makes the three counts of a call whose caller is known (its address's failed
    logins, its workspace's second and day) in one round trip, where `limits`' storage took
    three, each through layers that cost more than Redis's own work: 55% of a get's time on
    the event loop (bench/README.md, seventh session). The script touches several keys, so a
    Redis Cluster would need them in one slot; one Redis server, or a replicated one, is what
    `serve` supports.
    """

    def __init__(self, url: str) -> None:
        self._client = redis.asyncio.Redis.from_url(
            # The setting's `redis+unix://` (config.REDIS_SCHEMES) is redis-py's `unix://`.
            url.replace("redis+unix://", "unix://", 1),
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._incr = self._client.register_script(_INCR)
        self._admit = self._client.register_script(_ADMIT)

    async def incr(self, key: str, expiry: int) -> int:
        return int(await self._incr(keys=[_KEY_PREFIX + key], args=[expiry, 1]))

    async def get(self, key: str) -> int:
        return int(await self._client.get(_KEY_PREFIX + key) or 0)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self) -> bool:
        # redis-py types ping() for its synchronous and asyncio clients at once.
        return bool(await self._client.ping())  # type: ignore[misc]

    async def admit(
        self, failures_key: str, failures_allowed: int, windows: Sequence[tuple[str, int, int]]
    ) -> list[int]:
        """The failures counted for the address, then the count of each window (key, expiry,
        limit) in turn, up to the first it exceeds; no window is counted while the failures
        have reached `failures_allowed`."""
        keys = [_KEY_PREFIX + failures_key] + [_KEY_PREFIX + key for key, _, _ in windows]
        args = [failures_allowed]
        for _, expiry, allowed in windows:
            args += [expiry, allowed]
        return cast(list[int], await self._admit(keys=keys, args=args))


def counter_storage(redis_url: str | None) -> Counters:
    """Counters in this process's memory, or in Redis shared by every process that uses it."""
    if redis_url is None:
        return LocalCounters()
    return RedisCounters(redis_url)
