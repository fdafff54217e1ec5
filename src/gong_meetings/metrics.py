"""Prometheus metrics for GET /metrics.

With one server process they live in its memory. `serve --workers N` sets
PROMETHEUS_MULTIPROC_DIR before the workers start, so each worker writes its values to files
there (prometheus-client's multiprocess mode) and any worker's /metrics sums all of them.
"""

import bisect
import itertools
import math
import os
from collections.abc import Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

# `_created` series double the output and mean nothing to a service that counts from start.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# A route label for requests no route matched, so unknown paths cannot grow the label set.
UNMATCHED_ROUTE = "unmatched"

_REQUESTS = "gong_meetings_requests"
_REQUESTS_HELP = "HTTP requests answered, by method, route template and status."
_DURATION = "gong_meetings_request_duration_seconds"
_DURATION_HELP = (
    "Time from a request's arrival to the end of its response, by method and route template."
)
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Several workers: every value goes to prometheus-client's files at once, for any worker's
# /metrics to sum. `serve --workers N` sets the variable before the workers start.
_SHARED_BY_WORKERS = bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))

RATE_LIMITED = Counter(
    "gong_meetings_rate_limited",
    "Calls refused with 429: over a workspace's limits, or from an address with too many"
    " failed authentications.",
    ["limit"],
)
AUTHENTICATION_FAILURES = Counter(
    "gong_meetings_authentication_failures",
    "Calls and token requests refused because their credentials were not valid.",
)
DATABASE_ERRORS = Counter(
    "gong_meetings_database_errors",
    "Database failures that made a request answer 503.",
)
for limit in ("workspace", "failed_authentications"):
    RATE_LIMITED.labels(limit)  # present at zero from the start, as Prometheus prefers


class _RequestTally:
    """The requests this process answered, counted in plain Python and written out as the
    two metrics when /metrics is read.

    prometheus-client's Counter and Histogram take a lock for each value they change, three a
    request: counting a request cost a twentieth of an update's time on the event loop. Only
    the event loop counts requests and reads them, so no lock is needed here. The exposition
    is the same, line for line (tests/unit/test_request_metrics.py).
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        # (method, route): [sum of seconds, then the count of each bucket's own range].
        self._durations: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        duration = self._durations.get((method, route))
        if duration is None:
            duration = self._durations[(method, route)] = [0.0] * (len(_BUCKETS) + 2)
        duration[0] += seconds
        # The first bucket whose bound is at least `seconds`; past the last, +Inf's.
        duration[1 + bisect.bisect_left(_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            _REQUESTS, _REQUESTS_HELP, labels=["method", "route", "status"]
        )
        for (method, route, status), count in self._counts.items():
            requests.add_metric([method, route, str(status)], count)
        durations = HistogramMetricFamily(_DURATION, _DURATION_HELP, labels=["method", "route"])
        for (method, route), (total, *counts) in self._durations.items():
            cumulative = list(itertools.accumulate(counts))
            buckets = [
                (floatToGoString(bound), count)  # type: ignore[no-untyped-call]
                for bound, count in zip([*_BUCKETS, math.inf], cumulative, strict=True)
            ]
            durations.add_metric([method, route], buckets, total)
        yield requests
        yield durations


if _SHARED_BY_WORKERS:
    _REQUESTS_COUNTER = Counter(_REQUESTS, _REQUESTS_HELP, ["method", "route", "status"])
    _DURATION_HISTOGRAM = Histogram(
        _DURATION, _DURATION_HELP, ["method", "route"], buckets=_BUCKETS
    )
else:
    _tally = _RequestTally()
    REGISTRY.register(_tally)

# Each (method, route, status)'s two series, found once: `labels()` checks and locks on every
# call, which doubled the cost of counting a request. Routes are templates, so this stays small.
_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if not _SHARED_BY_WORKERS:
        _tally.observe(method, route, status, seconds)
        return
    series = _series.get((method, route, status))
    if series is None:
        series = (
            _REQUESTS_COUNTER.labels(method, route, str(status)),
            _DURATION_HISTOGRAM.labels(method, route),
        )
        _series[(method, route, status)] = series
    count, duration = series
    count.inc()
    duration.observe(seconds)


def exposition() -> bytes:
    """The Prometheus text format of every metric, summed over all workers when several."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
