"""Date-times written through the driver (storage/driver.instant) are the text SQLAlchemy's
DateTime writes on SQLite, so rows written either way compare and sort alike."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, DateTime, column, insert, select, table

from gong_meetings.storage.database import Database
from gong_meetings.storage.driver import execute, fetch_all, instant

INSTANTS = [
    datetime(2030, 1, 15, 10, 0, tzinfo=UTC),
    datetime(2030, 1, 15, 10, 0, 0, 120, tzinfo=UTC),
    datetime(2031, 3, 4, 15, 30, 59, 999_999, tzinfo=UTC),
    datetime(2031, 3, 4, 15, 30, 59, 1, tzinfo=UTC),
    datetime(2031, 3, 4, 15, 30, 59, 100_000, tzinfo=UTC),
    datetime(2032, 2, 29, 23, 59, 59, tzinfo=UTC),
    datetime(1000, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC),
    # Another offset: stored as the same instant in UTC.
    datetime(2030, 6, 1, 1, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2030, 1, 1, 3, 0, 0, 250, tzinfo=timezone(timedelta(hours=5))),  # the year before
    datetime(2030, 6, 1, 1, 30, tzinfo=timezone(timedelta(0), "a zero offset of its own")),
]
STAMPS = table("stamps", column("how"), column("at", DateTime()))


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Connection]:
    database = Database(f"sqlite:///{tmp_path}/instants.db")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE stamps (how TEXT, at DATETIME)")
        yield connection
    database.close()


@pytest.mark.parametrize("value", INSTANTS, ids=str)
def test_an_instant_is_stored_as_sqlalchemy_stores_it(
    connection: Connection, value: datetime
) -> None:
    utc = value.astimezone(UTC).replace(tzinfo=None)  # SQLAlchemy's DateTime takes naive UTC
    connection.execute(insert(STAMPS).values(how="sqlalchemy", at=utc))
    execute(
        connection,
        "INSERT INTO stamps (how, at) VALUES ('driver', :at)",
        {"at": instant(connection, value)},
    )
    rows = fetch_all(connection, "SELECT how, at FROM stamps ORDER BY how", {})
    assert [tuple(row) for row in rows] == [
        ("driver", rows[1][1]),
        ("sqlalchemy", rows[1][1]),
    ]
    assert connection.execute(select(STAMPS.c.at)).scalars().all() == [utc, utc]
