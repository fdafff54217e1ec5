"""Fixtures: a clean database per test (SQLite and PostgreSQL), a client, a tenant, and for the
rate-limit tests a clock to move and the counters' storage (memory and Redis)."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gong_meetings.config import Settings
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from tests.helpers import Tenant, app_client, make_tenant
from tests.postgres import empty_tables, postgres_url, reset_schema
from tests.ratelimits import FakeClock
from tests.redis import empty_redis, redis_url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_schema() -> str:
    """The PostgreSQL test database, its schema built fresh once per run."""
    url = postgres_url()
    reset_schema(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Every test that uses the database runs on both: a new SQLite file, or emptied tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gong-meetings.db"
    url: str = request.getfixturevalue("postgres_schema")
    empty_tables(url)
    return url


@pytest.fixture
def accounts(database_url: str) -> Iterator[AccountService]:
    database = Database(database_url)
    upgrade(database.engine)
    yield AccountService(database)
    database.close()


@pytest.fixture
def tenant(accounts: AccountService) -> Tenant:
    """Workspace `acme` with the user organizer@acme.test and one key."""
    return make_tenant(accounts, "acme")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, public_base_url="http://meetings.test")


@pytest.fixture
async def client(settings: Settings, accounts: AccountService) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process through the ASGI transport."""
    async with app_client(settings) as http:
        yield http


@pytest.fixture
def clock() -> FakeClock:
    """What rate-limit windows are measured by, stopped at `tests.ratelimits.START`."""
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def counters(request: pytest.FixtureRequest) -> str | None:
    """Where rate-limit counters live: None for this process's memory, or an emptied Redis
    (skipped without GONG_MEETINGS_TEST_REDIS_URL). Pass it as Settings.redis_url."""
    if request.param == "memory":
        return None
    url = redis_url()
    empty_redis(url)
    return url
