"""Plain SQL straight to the database driver, for the statements on every request's path.

On a 2-core machine SQLAlchemy Core takes about 300 µs to build, look up and run a one-row
SELECT, against 10 µs for the same SQL through sqlite3 itself (bench/README.md). So the hot
statements are written once as plain SQL with `:name` parameters. On SQLite they go to sqlite3
directly, inside the transaction SQLAlchemy began; on PostgreSQL they go through
`exec_driver_sql`, rewritten to the driver's `%(name)s` style.

Values come back as the driver gives them: on SQLite a date-time is the text SQLAlchemy stored
(`storage.timestamps.from_db` reads both forms), and `instant` writes one the same way.
"""

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from gong_meetings.storage.timestamps import to_db

_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@contextmanager
def _sqlalchemy_errors(
    sql: str, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> Iterator[None]:
    """sqlite3's errors as SQLAlchemy raises them (OperationalError, IntegrityError, ...), so
    that `Database.run` tells an outage (503) from a bug the same way on either path."""
    try:
        yield
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error


@cache
def _pyformat(sql: str) -> str:
    return _NAMED_PARAMETER.sub(r"%(\1)s", sql)


def fetch_all(
    connection: Connection, sql: str, parameters: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """Every row `sql` returns, each a sequence of column values in the SELECT's order."""
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        assert driver is not None
        with _sqlalchemy_errors(sql, parameters):
            rows: list[Sequence[Any]] = driver.execute(sql, parameters).fetchall()
        return rows
    return list(connection.exec_driver_sql(_pyformat(sql), dict(parameters)).all())


def fetch_one(
    connection: Connection, sql: str, parameters: Mapping[str, Any]
) -> Sequence[Any] | None:
    """The first row `sql` returns, or None."""
    found = fetch_all(connection, sql, parameters)
    return found[0] if found else None


def execute(
    connection: Connection,
    sql: str,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> None:
    """Run a statement that returns nothing; a sequence of parameter sets runs it for each."""
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        assert driver is not None
        with _sqlalchemy_errors(sql, parameters):
            if isinstance(parameters, Mapping):
                driver.execute(sql, parameters)
            else:
                driver.executemany(sql, parameters)
        return
    many = dict(parameters) if isinstance(parameters, Mapping) else [dict(p) for p in parameters]
    connection.exec_driver_sql(_pyformat(sql), many)


def end_transaction(connection: Connection, how: str) -> None:
    """COMMIT or ROLLBACK a transaction begun through the driver. A statement run through
    SQLAlchemy since then made it believe it began the transaction (the begin listener adds
    nothing when one is open), so then SQLAlchemy ends it, to keep its own state straight."""
    if not connection.in_transaction():
        execute(connection, how, {})
    elif how == "COMMIT":
        connection.commit()
    else:
        connection.rollback()


def instant(connection: Connection, value: datetime) -> datetime | str:
    """A UTC instant as a parameter: on SQLite, the text SQLAlchemy's DateTime stores, so that
    rows written either way compare and sort alike."""
    utc = to_db(value)
    if connection.dialect.name != "sqlite":
        return utc
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f" {utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )
