"""Prometheus metrics for GET /metrics.

With one server process they live in its memory. `serve --workers N` sets
PROMETHEUS_MULTIPROC_DIR before the workers start, so each worker writes its values to files
there (prometheus-client's multiprocess mode) and any worker's /metrics sums all of them.
"""

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

# `_created` series double the output and mean nothing to a service that counts from start.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# A route label for requests no route matched, so unknown paths cannot grow the label set.
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "gong_meetings_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "gong_meetings_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
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


# Each (method, route, status)'s two series, found once: `labels()` checks and locks on every
# call, which doubled the cost of counting a request. Routes are templates, so this stays small.
_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    series = _series.get((method, route, status))
    if series is None:
        series = REQUESTS.labels(method, route, str(status)), REQUEST_DURATION.labels(method, route)
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
