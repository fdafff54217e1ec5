"""Redis for the tests: where it is, and an empty database for each test that uses it.

CI sets GONG_MEETINGS_TEST_REDIS_URL (see .ci/run). Without it, the Redis variants of the
tests skip and say how to enable them; with it, an unreachable server fails them.
"""

import os
import shutil

import pytest
import redis

REDIS_URL_VARIABLE = "GONG_MEETINGS_TEST_REDIS_URL"
SKIP_REASON = (
    f"Redis tests need {REDIS_URL_VARIABLE}, for example"
    f" {REDIS_URL_VARIABLE}=redis://127.0.0.1:6379/15 (.ci/run sets it);"
    " the tests empty that Redis database"
)


def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(SKIP_REASON)
    return url


def empty_redis(url: str) -> None:
    """Forget every counter, so that no test sees another's calls."""
    with redis.Redis.from_url(url) as client:
        client.flushdb()


def redis_server_binary() -> str:
    """The redis-server program, for tests that start and stop a Redis of their own."""
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip("this test starts its own Redis and needs redis-server on PATH")
    return found
