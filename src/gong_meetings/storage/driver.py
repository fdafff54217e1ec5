"""Plain SQL straight to the database driver, for the statements on every request's path.

On a 2-core machine SQLAlchemy Core takes about 300 µs to build, look up and run a one-row
SELECT, against 10 µs for the same SQL through sqlite3 itself (bench/README.md). So the hot
statements are written once as plain SQL with `:name` parameters, and go to the driver's own
cursor, inside the transaction SQLAlchemy began: sqlite3's, or on PostgreSQL the DBAPI cursor
of SQLAlchemy's adapter, rewritten to its style: asyncpg's `$1` with the values in order (the
server's), or psycopg's `%(name)s` (the CLI's and migrations'). There `exec_driver_sql`
cost about 200 µs more a statement than the cursor, in building a result SQLAlchemy would only
turn back into rows (bench/README.md, sixth session).

Values come back as the driver gives them: on SQLite a date-time is the text SQLAlchemy stored
(`storage.timestamps.from_db` reads both forms), and `instant` writes one the same way.
"""

import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

import msgspec
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError, StatementError

from gong_meetings.storage.timestamps import to_db

_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


def _as_sqlalchemy_error(
    error: sqlite3.Error, sql: str, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> StatementError:
    """sqlite3's error as SQLAlchemy raises it (OperationalError, IntegrityError, ...), so
    that `Database.run` tells an outage (503) from a bug the same way on either path."""
    return DBAPIError.instance(sql, parameters, error, sqlite3.Error)


def is_data_error(error: BaseException) -> bool:
    """An error about the statement or its data (a bug here, or an item the database refuses),
    not about the database's health."""
    return isinstance(error, IntegrityError | DataError | ProgrammingError)


@cache
def _pyformat(sql: str) -> str:
    return _NAMED_PARAMETER.sub(r"%(\1)s", sql)


@cache
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with asyncpg's `$1` placeholders for its `:name` ones, and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return _NAMED_PARAMETER.sub(number, sql), tuple(names)


def sqlite_connection(connection: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLite `connection`. The pool's `dbapi_connection` is
    it: `driver_connection`, the same object, is three calls deeper, on every statement."""
    return cast(sqlite3.Connection, connection.connection.dbapi_connection)


def fetch_all(
    connection: Connection, sql: str, parameters: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """Every row `sql` returns, each a sequence of column values in the SELECT's order."""
    if connection.dialect.name == "sqlite":
        driver = sqlite_connection(connection)
        try:
            rows: list[Sequence[Any]] = driver.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise _as_sqlalchemy_error(error, sql, parameters) from error
        return rows
    return _on_postgres(connection, sql, parameters) or []


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
        driver = sqlite_connection(connection)
        try:
            if isinstance(parameters, list | tuple):  # not Mapping: an ABC check costs more
                driver.executemany(sql, parameters)
            else:
                driver.execute(sql, parameters)
        except sqlite3.Error as error:
            raise _as_sqlalchemy_error(error, sql, parameters) from error
        return
    _on_postgres(connection, sql, parameters)


def sqlite_changes(connection: Connection, sql: str, parameters: Mapping[str, Any]) -> int:
    """Run one statement on SQLite: how many rows it stored, changed or deleted (sqlite3's
    rowcount, in which a row ON CONFLICT DO NOTHING skipped counts as none)."""
    driver = sqlite_connection(connection)
    try:
        changed: int = driver.execute(sql, parameters).rowcount
    except sqlite3.Error as error:
        raise _as_sqlalchemy_error(error, sql, parameters) from error
    return changed


def _in_driver_style(
    connection: Connection, sql: str, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> tuple[str, Any]:
    """`sql` and `parameters` as the connection's driver takes them: psycopg's (the CLI's and
    migrations') by name, asyncpg's (the server's) in order."""
    if connection.dialect.paramstyle == "pyformat":
        return _pyformat(sql), parameters
    statement, names = _numbered(sql)
    if isinstance(parameters, list | tuple):
        return statement, [[each[name] for name in names] for each in parameters]
    return statement, [cast(Mapping[str, Any], parameters)[name] for name in names]


def _on_postgres(
    connection: Connection,
    sql: str,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> list[Sequence[Any]] | None:
    """Run `sql` on the DBAPI cursor: the rows it returns, or None for a statement that
    returns none. A failure is raised as SQLAlchemy raises it from its own statements: its
    error classes, and after a lost connection that connection, and those of its age in the
    pool, invalidated (`Database` relies on both)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    statement, given = _in_driver_style(connection, sql, parameters)
    try:
        if isinstance(parameters, list | tuple):
            cursor.executemany(statement, given)
        else:
            cursor.execute(statement, given)
        if cursor.description is None:
            return None
        return cast(list[Sequence[Any]], cursor.fetchall())
    except BaseException as error:
        # SQLAlchemy's own handling, as `exec_driver_sql` would have applied it: to a
        # cancellation too (a deadline), after which the connection is not used again.
        connection._handle_dbapi_exception(error, statement, parameters, cursor, None)
    finally:
        cursor.close()


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


def discard(connection: Connection) -> None:
    """Close a connection whose settings were changed for one use (query_only, no busy
    timeout) without handing it back to the pool, where the next user would inherit them."""
    connection.invalidate()
    connection.close()


_encode_instant = msgspec.json.Encoder().encode
_WITHOUT_MICROSECONDS = len(b'"2030-01-15T10:00:00Z"')


def instant(connection: Connection, value: datetime) -> datetime | str:
    """A UTC instant as a parameter: on SQLite, the text SQLAlchemy's DateTime stores, so that
    rows written either way compare and sort alike: `2030-01-15 10:00:00.000000`."""
    # The instants written here are UTC already: not calling to_db for them saves 2,500 of
    # this function's 7,300 instructions; the same check inside to_db would save 440.
    utc = value if value.tzinfo is UTC else to_db(value)
    if connection.dialect.name != "sqlite":
        return utc
    # Cut from msgspec's RFC 3339 form, `"2030-01-15T10:00:00Z"`, with `.123456` before the Z
    # when there are microseconds: under a third of the instructions of the date-time's own
    # isoformat, which was 14,000 of them, three times a create (bench/README.md).
    text = _encode_instant(utc)
    if len(text) == _WITHOUT_MICROSECONDS:
        return (text[1:11] + b" " + text[12:20] + b".000000").decode("ascii")
    return (text[1:11] + b" " + text[12:27]).decode("ascii")
