"""GET /metrics: Prometheus text with requests by route template, method and status, their
durations, 429s by limit, failed authentications and database errors; open unless a bearer
token is configured; never charged against a workspace's limits.

The metrics live in the process's default registry, shared by every app a test run builds, so
each test reads /metrics before and after what it does and checks the differences. A real
PostgreSQL outage seen through a live server's /metrics is in tests/system/test_database_outage.
"""

import dataclasses
from collections.abc import Mapping

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from gong_meetings.config import Settings
from gong_meetings.records import Quota
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage import meetings as meeting_storage
from tests.helpers import (
    Tenant,
    app_client,
    assert_error,
    create_meeting,
    http_client,
    make_tenant,
    meeting_body,
    running_app,
)
from tests.ratelimits import (
    SQLITE_ONLY,
    TO_NEXT_MINUTE,
    FakeClock,
    assert_no_rate_limit_headers,
    assert_rate_limited,
    bearer_token,
    windows,
)

# What is counted is independent of the database; SQLite is enough.
pytestmark = SQLITE_ONLY

REQUESTS = "gong_meetings_requests_total"
DURATION = "gong_meetings_request_duration_seconds"
RATE_LIMITED = "gong_meetings_rate_limited_total"
AUTH_FAILURES = "gong_meetings_authentication_failures_total"
DATABASE_ERRORS = "gong_meetings_database_errors_total"
MEETING_ROUTE = "/v2/meetings/{meetingId}"
STATUS_ROUTE = "/v2/meetings/integration-status"
NEVER_EXISTED = "1234567890123456789"
METRICS_TOKEN = "metrics-token-6f1d0c"
TOKEN_URL = "/oauth2/token"
GRANT = {"grant_type": "client_credentials"}
# Every route label the server may use: its templates, and one word for everything else.
KNOWN_ROUTES = {
    "/v2/meetings",
    STATUS_ROUTE,
    MEETING_ROUTE,
    TOKEN_URL,
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/assets/{path}",
    "unmatched",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def assert_prometheus_text(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain;")
    assert response.headers["cache-control"] == "no-store"


async def scrape(client: httpx.AsyncClient, headers: Mapping[str, str] | None = None) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert_prometheus_text(response)
    return parse_samples(response.text)


def route_labels(samples: Samples) -> set[str]:
    return {
        label_value
        for _, labels in samples
        for label_name, label_value in labels
        if label_name == "route"
    }


async def status_call(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """The integration-status call, with the credentials given (none by default)."""
    return await client.post(
        STATUS_ROUTE, json={"userEmail": tenant.organizer}, auth=auth, headers=headers
    )


# ---------------------------------------------------------------------------------------------
# Requests by route template, method and status; their durations


async def test_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    before = await scrape(client)
    ids = [(await create_meeting(client, tenant))["meetingId"] for _ in range(2)]
    assert ids[0] != ids[1]
    for meeting_id in ids:
        assert (await client.get(f"/v2/meetings/{meeting_id}", auth=tenant.auth)).status_code == 200
    missing = await client.get(f"/v2/meetings/{NEVER_EXISTED}", auth=tenant.auth)
    assert_error(missing, 404)
    renamed = await client.put(f"/v2/meetings/{ids[0]}", json={"title": "New"}, auth=tenant.auth)
    assert renamed.status_code == 200, renamed.text
    # A method the route does not have: still that route's template, with the 405.
    assert (await client.patch(f"/v2/meetings/{ids[1]}", auth=tenant.auth)).status_code == 405
    assert (await client.get(STATUS_ROUTE, auth=tenant.auth)).status_code == 405
    response = await client.get("/metrics")
    after = parse_samples(response.text)

    expected = {
        ("POST", "/v2/meetings", "201"): 2,
        ("GET", MEETING_ROUTE, "200"): 2,
        ("GET", MEETING_ROUTE, "404"): 1,
        ("PUT", MEETING_ROUTE, "200"): 1,
        ("PATCH", MEETING_ROUTE, "405"): 1,
        ("GET", STATUS_ROUTE, "405"): 1,
        ("GET", "/metrics", "200"): 1,  # the first scrape; the second is counted after it
    }
    for (method, route, status), count in expected.items():
        labels = {"method": method, "route": route, "status": status}
        assert grew(before, after, REQUESTS, **labels) == count, labels
    # Nothing else was counted for those routes.
    assert grew(before, after, REQUESTS, method="DELETE", route=MEETING_ROUTE, status="200") == 0
    # One series per template: the ids themselves are nowhere in the output.
    for meeting_id in [*ids, NEVER_EXISTED]:
        assert meeting_id not in response.text
    assert route_labels(after) <= KNOWN_ROUTES, route_labels(after) - KNOWN_ROUTES


async def test_unknown_paths_are_counted_as_unmatched_never_by_their_path(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    paths = ["/v2/nowhere-7a1c9e", "/totally/unknown/path-7a1c9e", "/v2/meetings/1/2/3-7a1c9e"]
    for path in paths:
        assert_error(await client.get(path), 404)
    assert_error(await client.delete("/wp-admin-7a1c9e"), 404)
    # Under a mount, the mount's template: the file asked for is not a label either.
    assert (await client.get("/docs/assets/missing-7a1c9e.js")).status_code == 404
    response = await client.get("/metrics")
    after = parse_samples(response.text)

    assert grew(before, after, REQUESTS, method="GET", route="unmatched", status="404") == 3
    assert grew(before, after, REQUESTS, method="DELETE", route="unmatched", status="404") == 1
    assert grew(before, after, f"{DURATION}_count", method="GET", route="unmatched") == 3
    assets = {"method": "GET", "route": "/docs/assets/{path}", "status": "404"}
    assert grew(before, after, REQUESTS, **assets) == 1
    assert "7a1c9e" not in response.text
    assert route_labels(after) <= KNOWN_ROUTES, route_labels(after) - KNOWN_ROUTES


async def test_the_duration_histogram_counts_every_request_of_its_route(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    before = await scrape(client)
    for _ in range(7):
        assert (await client.get("/healthz")).status_code == 200
    meeting_id = (await create_meeting(client, tenant))["meetingId"]
    for _ in range(3):
        assert (await client.get(f"/v2/meetings/{meeting_id}", auth=tenant.auth)).status_code == 200
    after = await scrape(client)

    for route, count in (("/healthz", 7), (MEETING_ROUTE, 3), ("/v2/meetings", 1)):
        labels = {"method": "GET" if route != "/v2/meetings" else "POST", "route": route}
        assert grew(before, after, f"{DURATION}_count", **labels) == count, labels
        assert grew(before, after, f"{DURATION}_bucket", **labels, le="+Inf") == count, labels
        assert grew(before, after, f"{DURATION}_sum", **labels) >= 0, labels
    # The buckets are cumulative, ending at the count.
    buckets = sorted(
        (float(dict(labels)["le"]), number)
        for (name, labels), number in after.items()
        if name == f"{DURATION}_bucket"
        and dict(labels).get("route") == "/healthz"
        and dict(labels).get("method") == "GET"
    )
    counts = [number for _, number in buckets]
    assert counts == sorted(counts), buckets
    assert counts[-1] == value(after, f"{DURATION}_count", method="GET", route="/healthz")


# ---------------------------------------------------------------------------------------------
# 429s, failed authentications, database errors


async def test_workspace_rate_limit_refusals_are_counted(
    accounts: AccountService, settings: Settings, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=Quota(per_second=2, per_day=1_000))
    async with app_client(settings, clock=clock) as client:
        before = await scrape(client)
        for _ in range(2):
            assert (await status_call(client, tenant, auth=tenant.auth)).status_code == 200
        for _ in range(3):
            assert_rate_limited(await status_call(client, tenant, auth=tenant.auth), 1)
        clock.advance(1)
        assert (await status_call(client, tenant, auth=tenant.auth)).status_code == 200
        after = await scrape(client)

    assert grew(before, after, RATE_LIMITED, limit="workspace") == 3
    assert grew(before, after, RATE_LIMITED, limit="failed_authentications") == 0
    assert grew(before, after, AUTH_FAILURES) == 0
    assert grew(before, after, REQUESTS, method="POST", route=STATUS_ROUTE, status="429") == 3
    assert grew(before, after, REQUESTS, method="POST", route=STATUS_ROUTE, status="200") == 3


async def test_refusals_after_too_many_failed_authentications_are_counted(
    tenant: Tenant, settings: Settings, clock: FakeClock
) -> None:
    two = dataclasses.replace(settings, auth_failures_per_minute=2)
    async with app_client(two, clock=clock) as client:
        before = await scrape(client)
        for _ in range(2):
            assert_error(await status_call(client, tenant, auth=(tenant.auth[0], "wrong")), 401)
        # Blocked now, with right credentials too, on the API and at the token endpoint.
        assert_rate_limited(await status_call(client, tenant, auth=tenant.auth), TO_NEXT_MINUTE)
        refused_token = await client.post(TOKEN_URL, data=GRANT, auth=tenant.auth)
        assert refused_token.status_code == 429, refused_token.text
        after = await scrape(client)

    assert grew(before, after, RATE_LIMITED, limit="failed_authentications") == 2
    assert grew(before, after, RATE_LIMITED, limit="workspace") == 0
    # The refused calls never got as far as checking credentials: two failures, not four.
    assert grew(before, after, AUTH_FAILURES) == 2
    assert grew(before, after, REQUESTS, method="POST", route=STATUS_ROUTE, status="401") == 2
    assert grew(before, after, REQUESTS, method="POST", route=STATUS_ROUTE, status="429") == 1
    assert grew(before, after, REQUESTS, method="POST", route=TOKEN_URL, status="429") == 1


async def test_failed_authentications_are_counted_and_successes_are_not(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    before = await scrape(client)
    assert_error(await status_call(client, tenant, auth=(tenant.auth[0], "wrong secret")), 401)
    assert_error(await status_call(client, tenant, auth=("NOSUCHKEY", tenant.auth[1])), 401)
    bad_bearer = {"Authorization": "Bearer gmt_not-a-token-we-issued"}
    assert_error(await status_call(client, tenant, headers=bad_bearer), 401)
    assert_error(await status_call(client, tenant), 401)
    failed_token = await client.post(TOKEN_URL, data=GRANT, auth=(tenant.auth[0], "wrong"))
    assert failed_token.status_code == 401, failed_token.text
    assert failed_token.json()["error"] == "invalid_client"
    middle = await scrape(client)
    assert grew(before, middle, AUTH_FAILURES) == 5

    # Successes, and refusals of valid credentials (a missing scope), are not failures.
    assert (await status_call(client, tenant, auth=tenant.auth)).status_code == 200
    token = await bearer_token(client, tenant.auth, scope="api:meetings:user:read")
    assert (await status_call(client, tenant, headers=token)).status_code == 403
    wrong_grant = await client.post(TOKEN_URL, data={"grant_type": "password"}, auth=tenant.auth)
    assert wrong_grant.status_code == 400, wrong_grant.text
    after = await scrape(client)
    assert grew(middle, after, AUTH_FAILURES) == 0
    assert grew(before, after, REQUESTS, method="POST", route=TOKEN_URL, status="401") == 1
    assert grew(before, after, REQUESTS, method="POST", route=TOKEN_URL, status="200") == 1


def _unavailable_database(*args: object, **kwargs: object) -> None:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


async def test_database_errors_are_counted(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await scrape(client)
    monkeypatch.setattr(meeting_storage, "insert_meetings", _unavailable_database)
    for _ in range(2):
        failed = await client.post(
            "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
        )
        assert_error(failed, 503, "database")
    monkeypatch.undo()
    await create_meeting(client, tenant)
    after = await scrape(client)

    assert grew(before, after, DATABASE_ERRORS) == 2
    assert grew(before, after, REQUESTS, method="POST", route="/v2/meetings", status="503") == 2
    assert grew(before, after, REQUESTS, method="POST", route="/v2/meetings", status="201") == 1


def _unexpected(*args: object, **kwargs: object) -> None:
    raise RuntimeError("not a database error")


async def test_an_unhandled_error_is_counted_as_a_500_and_not_as_a_database_error(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await scrape(client)
    monkeypatch.setattr(meeting_storage, "insert_meetings", _unexpected)
    body = meeting_body(tenant.organizer)
    assert_error(await client.post("/v2/meetings", json=body, auth=tenant.auth), 500)
    after = await scrape(client)

    assert grew(before, after, REQUESTS, method="POST", route="/v2/meetings", status="500") == 1
    assert grew(before, after, f"{DURATION}_count", method="POST", route="/v2/meetings") == 1
    assert grew(before, after, DATABASE_ERRORS) == 0


# ---------------------------------------------------------------------------------------------
# Access to /metrics


async def test_every_metric_is_exposed_without_credentials_when_no_token_is_set(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get("/metrics")
    assert_prometheus_text(response)
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "gong_meetings_requests",
        DURATION,
        "gong_meetings_rate_limited",
        "gong_meetings_authentication_failures",
        "gong_meetings_database_errors",
    } <= families
    samples = parse_samples(response.text)
    # Both limits are there from the start, at whatever they are.
    for limit in ("workspace", "failed_authentications"):
        assert (RATE_LIMITED, frozenset({("limit", limit)})) in samples
    # Credentials sent anyway change nothing, whether valid or not.
    for auth in (tenant.auth, (tenant.auth[0], "wrong")):
        assert_prometheus_text(await client.get("/metrics", auth=auth))
    assert_prometheus_text(
        await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    )


async def test_a_configured_token_is_required_as_a_bearer_token(
    settings: Settings, tenant: Tenant
) -> None:
    guarded = dataclasses.replace(settings, metrics_token=METRICS_TOKEN)
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with app_client(guarded) as client:
        before = await scrape(client, bearer)
        refusals = {
            "no header": {},
            "wrong token": {"Authorization": "Bearer not-the-metrics-token"},
            "token with more after it": {"Authorization": f"Bearer {METRICS_TOKEN}x"},
            "token as Basic": {"Authorization": f"Basic {METRICS_TOKEN}"},
            "token without a scheme": {"Authorization": METRICS_TOKEN},
            "empty bearer": {"Authorization": "Bearer "},
        }
        for name, headers in refusals.items():
            refused = await client.get("/metrics", headers=headers)
            assert_error(refused, 401, "Authorization")
            assert refused.headers["www-authenticate"].startswith("Bearer "), name
            assert METRICS_TOKEN not in refused.text, name
            assert "gong_meetings_" not in refused.text, name
        # A workspace's valid API key is no key to the metrics.
        basic = await client.get("/metrics", auth=tenant.auth)
        assert_error(basic, 401, "Authorization")
        assert basic.headers["www-authenticate"].startswith("Bearer ")

        after = await scrape(client, bearer)
    # The refusals were counted like any request; the first scrape was let in.
    assert grew(before, after, REQUESTS, method="GET", route="/metrics", status="401") == 7
    assert grew(before, after, REQUESTS, method="GET", route="/metrics", status="200") == 1
    # The setting comes from GONG_MEETINGS_METRICS_TOKEN; empty or absent, /metrics is open.
    env = {"GONG_MEETINGS_METRICS_TOKEN": METRICS_TOKEN}
    assert Settings.from_env(env).metrics_token == METRICS_TOKEN
    assert Settings.from_env({}).metrics_token is None
    assert Settings.from_env({"GONG_MEETINGS_METRICS_TOKEN": ""}).metrics_token is None


async def test_the_bearer_scheme_is_case_insensitive(settings: Settings) -> None:
    """RFC 7235 section 2.1: the scheme is case-insensitive, as the API's own Bearer is."""
    guarded = dataclasses.replace(settings, metrics_token=METRICS_TOKEN)
    async with app_client(guarded) as client:
        for scheme in ("bearer", "BEARER"):
            response = await client.get(
                "/metrics", headers={"Authorization": f"{scheme} {METRICS_TOKEN}"}
            )
            assert response.status_code == 200, (scheme, response.text)


async def test_metrics_are_not_charged_against_a_workspace_or_blocked_by_failures(
    accounts: AccountService, settings: Settings, clock: FakeClock
) -> None:
    tenant = make_tenant(accounts, "acme", quota=Quota(per_second=2, per_day=1_000))
    one_failure = dataclasses.replace(settings, auth_failures_per_minute=1)
    async with running_app(one_failure, clock) as app, http_client(app) as client:
        # With the workspace's credentials, more often than its limit allows: never a 429,
        # and none of the workspace's RateLimit headers.
        for _ in range(5):
            response = await client.get("/metrics", auth=tenant.auth)
            assert_prometheus_text(response)
            assert_no_rate_limit_headers(response)
        # The workspace still has its whole second, and its whole day less these calls.
        first = await status_call(client, tenant, auth=tenant.auth)
        assert first.status_code == 200, first.text
        assert windows(first) == {
            "per-second": (1, 1),
            "per-day": (999, windows(first)["per-day"][1]),
        }
        second = await status_call(client, tenant, auth=tenant.auth)
        assert windows(second)["per-second"] == (0, 1)

        # An address blocked for failed authentications can still be scraped.
        assert_error(await status_call(client, tenant, auth=(tenant.auth[0], "wrong")), 401)
        assert_rate_limited(await status_call(client, tenant, auth=tenant.auth), TO_NEXT_MINUTE)
        for _ in range(3):
            assert_prometheus_text(await client.get("/metrics"))
