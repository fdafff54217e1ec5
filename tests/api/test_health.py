"""/healthz and /readyz: no credentials, nothing about secrets or versions, and readiness that
names what does not answer (a real outage of PostgreSQL is in tests/system/test_database_outage)."""

import httpx
import pytest

from gong_meetings.config import Settings
from tests.helpers import app_client, assert_request_id
from tests.redis import empty_redis, redis_url
from tests.system.live import free_port


async def test_liveness_and_readiness_need_no_credentials(client: httpx.AsyncClient) -> None:
    live = await client.get("/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ok", "checks": {"database": "ok"}},
    )
    for response in (live, ready):
        assert_request_id(response)
        assert response.headers["cache-control"] == "no-store"
        # Nothing a probe does not need: no versions, hosts or URLs.
        assert "version" not in response.text.lower() and "://" not in response.text


async def test_health_calls_are_not_rate_limited(client: httpx.AsyncClient) -> None:
    answers = [(await client.get("/readyz")).status_code for _ in range(30)]
    assert answers == [200] * 30


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_readiness_names_an_unreachable_redis_and_liveness_stays_up(
    settings: Settings,
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with app_client(Settings(database_url=settings.database_url, redis_url=nowhere)) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "redis": "unavailable"},
        }
        assert nowhere not in ready.text
        assert (await http.get("/healthz")).status_code == 200


async def test_readiness_with_a_reachable_redis(settings: Settings) -> None:
    url = redis_url()
    empty_redis(url)
    async with app_client(Settings(database_url=settings.database_url, redis_url=url)) as http:
        ready = await http.get("/readyz")
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
