"""Fixtures: a fresh SQLite database per test, an in-process client and a tenant to call as."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gong_meetings.config import Settings
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from tests.helpers import Tenant, app_client, make_tenant


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def database_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/gong-meetings.db"


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
