"""Rate limits: API calls per workspace (per second and per day), failed logins per address.

The counters live in this process's memory, or in Redis when several processes share them
(storage/counters.py). Windows are fixed and
aligned to the clock (each second, each UTC day, each minute), so `Retry-After` is exact: a
client that waits that long is in a new window.
The clock is injectable, so a test can move through a day without sleeping.

If the storage fails (Redis is down), calls are served without limits rather than refused:
an outage of a rate limiter must not become an outage of the API. The error is logged at
most once a minute, and the storage is tried again a second later.
"""

import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

from gong_meetings import metrics
from gong_meetings.errors import RateLimited
from gong_meetings.records import Caller
from gong_meetings.storage.counters import (
    COUNTERS_UNAVAILABLE,
    Counters,
    LocalCounters,
    RedisCounters,
)

log = logging.getLogger("gong_meetings.ratelimits")

Clock = Callable[[], float]
# Counters outlive their window by this much, so an instance whose clock lags a little
# still adds to the same counter as the others.
_CLOCK_SKEW_SECONDS = 5
_RETRY_STORAGE_SECONDS = 1.0
MINUTE_SECONDS = 60
DAY_SECONDS = 86_400
_LOG_EVERY_SECONDS = 60.0
T = TypeVar("T")


class Window(msgspec.Struct, frozen=True, gc=False):
    """One limit as it stands after a call: what the RateLimit header fields report. (A Struct:
    two are made on every call, and a frozen dataclass took 0.5 µs to make, a NamedTuple
    0.2 µs, this 0.05 µs.)"""

    policy: str
    quota: int
    seconds: int
    remaining: int
    reset_seconds: int


def _window_index(now: float, seconds: int) -> tuple[int, int]:
    """Which fixed window `now` falls in, and the whole seconds (at least 1) until it ends."""
    index = int(now // seconds)
    return index, max(1, math.ceil((index + 1) * seconds - now))


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def policy_header(windows: list[tuple[str, int, int]]) -> str:
    """`RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): each quota and window."""
    return ", ".join(f'"{name}";q={quota};w={seconds}' for name, quota, seconds in windows)


def rate_limit_headers(caller: Caller, windows: list[Window]) -> dict[str, str]:
    """`RateLimit-Policy` for the workspace and `RateLimit` with what remains of each window;
    nothing when no window was counted (the counters are unreachable)."""
    raw = raw_rate_limit_headers(caller, windows)
    if not raw:
        return {}
    return {
        name: value.decode("ascii") for name, (_, value) in zip(_HEADER_NAMES, raw, strict=True)
    }


_HEADER_NAMES = ("RateLimit-Policy", "RateLimit")


def raw_rate_limit_headers(caller: Caller, windows: list[Window]) -> list[tuple[bytes, bytes]]:
    """The same as ASGI writes headers, made on every call, so made directly as bytes."""
    if not windows:
        return []
    quota = caller.quota
    if len(windows) == 2:  # a call that passed: charge's two windows, in one formatting
        second, day = windows
        state = _BOTH_WINDOWS % (
            second.remaining,
            second.reset_seconds,
            day.remaining,
            day.reset_seconds,
        )
    else:
        state = b", ".join(
            [b'"%s";r=%d;t=%d' % (w.policy.encode(), w.remaining, w.reset_seconds) for w in windows]
        )
    return [
        (b"ratelimit-policy", _workspace_policy(quota.per_second, quota.per_day)),
        (b"ratelimit", state),
    ]


_BOTH_WINDOWS = b'"per-second";r=%d;t=%d, "per-day";r=%d;t=%d'


@functools.lru_cache(maxsize=256)
def _workspace_policy(per_second: int, per_day: int) -> bytes:
    """The same for every call of a workspace, so written once."""
    windows = [("per-second", per_second, 1), ("per-day", per_day, DAY_SECONDS)]
    return policy_header(windows).encode("ascii")


# One window of a call before it is counted: (policy, unit, seconds, limit, seconds until
# the window resets, counter key, counter expiry). A plain tuple: made twice on every call.
_Planned = tuple[str, str, int, int, int, str, int]


def _plan(caller: Caller, now: float) -> list[_Planned]:
    """The caller's windows at `now`, counted in this order: the second's, then the day's."""
    quota = caller.quota
    plan = []
    for policy, unit, seconds, allowed in (
        ("per-second", "second", 1, quota.per_second),
        ("per-day", "day", DAY_SECONDS, quota.per_day),
    ):
        # A second's window always has a second left in it, by _window_index's rounding.
        index, reset = (int(now), 1) if seconds == 1 else _window_index(now, seconds)
        # The key leaves out the limit itself: calls made before a change still count.
        key = f"workspace/{caller.workspace_id}/{policy}/{index}"
        plan.append((policy, unit, seconds, allowed, reset, key, seconds + _CLOCK_SKEW_SECONDS))
    return plan


def _add_window(windows: list[Window], caller: Caller, planned: _Planned, count: int) -> None:
    """Add the window as it stands after the call's `count`; RateLimited past its limit."""
    policy, unit, seconds, allowed, reset, _, _ = planned
    windows.append(Window(policy, allowed, seconds, max(0, allowed - count), reset))
    if count > allowed:
        metrics.RATE_LIMITED.labels("workspace").inc()
        restart = " (the daily count restarts at 00:00 UTC)" if unit == "day" else ""
        raise RateLimited(
            f"rate limit exceeded: workspace {caller.workspace_name!r} may make"
            f" {_plural(allowed, 'call')} per {unit}{restart};"
            f" retry after {_plural(reset, 'second')}",
            headers={"Retry-After": str(reset), **rate_limit_headers(caller, windows)},
        )


class _FailOpenCounters:
    """The storage's counters, or None while it is failing (see the module's docstring)."""

    def __init__(self, storage: Counters, clock: Clock) -> None:
        self.storage = storage
        self._clock = clock
        self._retry_at = 0.0
        self._next_log_at = 0.0
        self._failing = False

    async def incr(self, key: str, expiry: int) -> int | None:
        return await self.call(lambda: self.storage.incr(key, expiry))

    async def get(self, key: str) -> int | None:
        return await self.call(lambda: self.storage.get(key))

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T | None:
        """What `operation` returns, or None while the storage fails or rests."""
        now = self._clock()
        if now < self._retry_at:
            return None  # the storage is not asked while it rests
        try:
            value = await operation()
        except COUNTERS_UNAVAILABLE as error:
            self._retry_at = now + _RETRY_STORAGE_SECONDS
            self._failing = True
            if now >= self._next_log_at:
                self._next_log_at = now + _LOG_EVERY_SECONDS
                cause = getattr(error, "storage_error", error)
                log.error("rate-limit storage failed, serving without limits: %r", cause)
            return None
        if self._failing:
            self._failing = False
            log.warning("rate-limit storage answers again; limits apply")
        return value


class RateLimiter:
    def __init__(
        self,
        storage: Counters,
        failures_per_minute: int,
        clock: Clock = time.time,
    ) -> None:
        self._counters = _FailOpenCounters(storage, clock)
        # Counters in memory never fail, and are counted without a coroutine: the layers of
        # awaits around the two counts of a call cost more than the counting (bench/README.md).
        self._local = storage if isinstance(storage, LocalCounters) else None
        self._last_failure = -math.inf  # when count_failure last counted one
        self._clock = clock
        self._failures_per_minute = failures_per_minute

    async def charge(self, caller: Caller) -> list[Window]:
        """Count one call against the caller's workspace: the windows after it, or
        RateLimited when a limit is spent. Empty when the counters cannot be reached."""
        if self._local is not None:
            return self._charge_locally(self._local, caller)
        windows: list[Window] = []
        for planned in _plan(caller, self._clock()):
            count = await self._counters.incr(planned[5], planned[6])
            if count is None:
                return []
            _add_window(windows, caller, planned, count)
        return windows

    def _charge_locally(self, local: LocalCounters, caller: Caller) -> list[Window]:
        """`charge` on counters in memory: the same windows, counted as two numbers of the
        workspace's rather than by key (storage/counters.py WorkspaceCalls)."""
        now = self._clock()
        second = int(now)
        calls = local.workspace_calls(caller.workspace_id)
        calls.move_to(second, second // DAY_SECONDS)
        quota = caller.quota
        calls.in_second += 1
        if calls.in_second > quota.per_second:
            _add_window([], caller, _plan(caller, now)[0], calls.in_second)  # raises
        calls.in_day += 1
        windows = [
            Window(
                "per-second", quota.per_second, 1, max(0, quota.per_second - calls.in_second), 1
            ),
            # Whole seconds to midnight: now's fraction of a second rounds it up.
            Window(
                "per-day",
                quota.per_day,
                DAY_SECONDS,
                max(0, quota.per_day - calls.in_day),
                (calls.day + 1) * DAY_SECONDS - second,
            ),
        ]
        if calls.in_day > quota.per_day:
            _add_window(windows[:1], caller, _plan(caller, now)[1], calls.in_day)  # raises
        return windows

    def admit_in_memory(self, address: str, caller: Caller) -> list[Window] | None:
        """`admit` without a coroutine, when the counters are in this process's memory (the
        coroutine was a tenth of a call's rate limiting); None when `admit` must be awaited."""
        if self._local is None:
            return None
        self._refuse_if_blocked_locally(self._local, address)
        return self._charge_locally(self._local, caller)

    async def admit(self, address: str, caller: Caller) -> list[Window]:
        """`refuse_if_blocked(address)`, then `charge(caller)`, for a caller already known
        (from the authentication cache): in Redis, one round trip where they take three."""
        in_memory = self.admit_in_memory(address, caller)
        if in_memory is not None:
            return in_memory
        storage = self._counters.storage
        if not isinstance(storage, RedisCounters):
            await self.refuse_if_blocked(address)
            return await self.charge(caller)
        failures_key, failures_reset = self._failure_key(address)
        plan = _plan(caller, self._clock())
        windows_counted = [(planned[5], planned[6], planned[3]) for planned in plan]
        counts = await self._counters.call(
            lambda: storage.admit(failures_key, self._failures_per_minute, windows_counted)
        )
        if counts is None:
            return []
        self._refuse_if_spent(address, counts[0], failures_reset)
        windows: list[Window] = []
        for planned, count in zip(plan, counts[1:], strict=False):  # up to the one exceeded
            _add_window(windows, caller, planned, count)
        return windows

    async def aclose(self) -> None:
        """Close the connections to the counters' storage, if it has any."""
        if isinstance(self._counters.storage, RedisCounters):
            await self._counters.storage.aclose()

    async def counters_answer(self) -> bool:
        """Whether the counters' storage (Redis, when configured) answers right now."""
        try:
            return await self._counters.storage.check()
        except COUNTERS_UNAVAILABLE:
            return False

    async def refuse_if_blocked(self, address: str) -> None:
        """RateLimited while `address` has used up its failed authentications this minute."""
        if self._local is not None:
            self._refuse_if_blocked_locally(self._local, address)
            return
        key, reset = self._failure_key(address)
        count = await self._counters.get(key)
        if count is not None:
            self._refuse_if_spent(address, count, reset)

    def _refuse_if_blocked_locally(self, local: LocalCounters, address: str) -> None:
        if self._clock() - self._last_failure >= MINUTE_SECONDS:
            return  # no failure in this process within a minute: none in this minute's window
        key, reset = self._failure_key(address)
        self._refuse_if_spent(address, local.peek(key), reset)

    def _refuse_if_spent(self, address: str, failures: int, reset: int) -> None:
        if failures >= self._failures_per_minute:
            metrics.RATE_LIMITED.labels("failed_authentications").inc()
            raise RateLimited(
                f"too many failed authentications from {address}: at most"
                f" {self._failures_per_minute} a minute; retry after {_plural(reset, 'second')}",
                headers={"Retry-After": str(reset)},
            )

    async def count_failure(self, address: str) -> None:
        metrics.AUTHENTICATION_FAILURES.inc()
        self._last_failure = self._clock()
        key, _ = self._failure_key(address)
        await self._counters.incr(key, MINUTE_SECONDS + _CLOCK_SKEW_SECONDS)

    def _failure_key(self, address: str) -> tuple[str, int]:
        index, reset = _window_index(self._clock(), MINUTE_SECONDS)
        return f"auth-failures/{address}/{index}", reset
