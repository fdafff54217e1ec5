"""Requests are counted in plain Python (metrics._RequestTally) but exposed exactly as
prometheus-client's own Counter and Histogram expose the same observations."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from gong_meetings import metrics

OBSERVED = [
    ("GET", "/v2/meetings/{meetingId}", 200, 0.0004),
    ("GET", "/v2/meetings/{meetingId}", 200, 0.001),  # on a bound: counted in that bucket
    ("GET", "/v2/meetings/{meetingId}", 404, 0.0031),
    ("POST", "/v2/meetings", 201, 0.07),
    ("POST", "/v2/meetings", 201, 2.5),
    ("POST", "/v2/meetings", 400, 12.0),  # past the last bound: +Inf only
    ("GET", "/healthz", 200, 0.0),
]


def test_the_tally_is_exposed_as_prometheus_clients_counter_and_histogram_are() -> None:
    expected = CollectorRegistry()
    requests = Counter(
        "gong_meetings_requests",
        metrics._REQUESTS_HELP,
        ["method", "route", "status"],
        registry=expected,
    )
    durations = Histogram(
        "gong_meetings_request_duration_seconds",
        metrics._DURATION_HELP,
        ["method", "route"],
        buckets=metrics._BUCKETS,
        registry=expected,
    )
    tally = metrics._RequestTally()
    found = CollectorRegistry()
    found.register(tally)
    for method, route, status, seconds in OBSERVED:
        requests.labels(method, route, str(status)).inc()
        durations.labels(method, route).observe(seconds)
        tally.observe(method, route, status, seconds)

    exposed = generate_latest(found).decode()
    assert exposed == generate_latest(expected).decode()
    assert 'gong_meetings_requests_total{method="POST",route="/v2/meetings",status="201"} 2.0' in (
        exposed
    )
    assert (
        'gong_meetings_request_duration_seconds_bucket{le="0.001",method="GET",'
        'route="/v2/meetings/{meetingId}"} 2.0'
    ) in exposed


def test_an_empty_tally_exposes_the_two_metrics_with_no_series() -> None:
    found = CollectorRegistry()
    found.register(metrics._RequestTally())
    exposed = generate_latest(found).decode()
    assert "# TYPE gong_meetings_requests_total counter" in exposed
    assert "# TYPE gong_meetings_request_duration_seconds histogram" in exposed
    assert "{" not in exposed
