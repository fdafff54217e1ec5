"""PostgreSQL for the tests: where it is, and a clean database for each test that uses it.

CI sets GONG_MEETINGS_TEST_POSTGRES_URL (see .ci/run). Without it, the PostgreSQL variants of
the tests skip and say how to enable them; with it, an unreachable server fails them.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import upgrade
from gong_meetings.storage.tables import metadata

POSTGRES_URL_VARIABLE = "GONG_MEETINGS_TEST_POSTGRES_URL"
SKIP_REASON = (
    f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}, for example"
    f" {POSTGRES_URL_VARIABLE}=postgresql://postgres@127.0.0.1:5432/test (.ci/run sets it)"
)


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(SKIP_REASON)
    return url


def reset_schema(url: str) -> None:
    """Drop everything in the database and build the schema with the migrations."""
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade(database.engine)
    finally:
        database.close()


def empty_tables(url: str) -> None:
    """Remove every row, so that no test sees another's data."""
    database = Database(url)
    try:
        names = ", ".join(table.name for table in metadata.sorted_tables)
        with database.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        database.close()


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new, empty database on the same server, dropped afterwards (for migration tests)."""
    name = f"gong_meetings_{uuid.uuid4().hex[:12]}"
    admin = Database(url)
    admin.engine = admin.engine.execution_options(isolation_level="AUTOCOMMIT")  # type: ignore[assignment]
    try:
        with admin.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.engine.connect() as connection:
            # DROP DATABASE waits for a checkpoint of the whole server, which after a busy
            # test (or a benchmark on the same server) can outlast the service's statement
            # timeout that this connection has.
            connection.execute(text("SET statement_timeout = 0"))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.close()
