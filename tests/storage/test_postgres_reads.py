"""Lone reads on PostgreSQL (`Database.read(..., one_statement=True)`: a get, an
integration-status) run in autocommit, with no transaction around them, and survive the
server dropping the pooled connections they would use. And the pools keep the connections
they open under load, rather than open and close one for most requests."""

import asyncio
from collections.abc import Iterator

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, text

from gong_meetings.config import PoolOptions
from gong_meetings.storage.database import Database
from tests.postgres import empty_tables


@pytest.fixture
def database(postgres_schema: str) -> Iterator[Database]:
    empty_tables(postgres_schema)
    database = Database(postgres_schema)
    yield database
    database.close()  # each test disposes of the async pools on its own event loop


def transaction_status(connection: Connection) -> TransactionStatus:
    """Where the connection stands after a statement, as the server told the driver (which
    sends BEGIN with the first statement of a transaction)."""
    connection.exec_driver_sql("SELECT 1")
    driver = connection.connection.driver_connection
    return driver.info.transaction_status  # type: ignore[union-attr,no-any-return]


def test_a_lone_read_runs_outside_a_transaction(database: Database) -> None:
    async def both() -> tuple[TransactionStatus, TransactionStatus]:
        try:
            lone = await database.read(transaction_status, one_statement=True)
            several = await database.read(transaction_status)
            return lone, several
        finally:
            await database.aclose()

    lone, several = asyncio.run(both())
    assert lone == TransactionStatus.IDLE  # no BEGIN was sent
    assert several == TransactionStatus.INTRANS


def test_a_lone_read_survives_the_server_dropping_its_connections(
    database: Database, postgres_schema: str
) -> None:
    def backend(connection: Connection) -> int:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    async def scenario() -> tuple[set[int], int]:
        try:
            # Several connections in the pool, as under load.
            first = await asyncio.gather(
                *(database.read(backend, one_statement=True) for _ in range(4))
            )
            admin = Database(postgres_schema)
            try:
                with admin.engine.begin() as connection:
                    for pid in set(first):
                        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            finally:
                admin.close()
            after = await database.read(backend, one_statement=True)
            return set(first), after
        finally:
            await database.aclose()

    dropped, after = asyncio.run(scenario())
    assert dropped
    assert after not in dropped  # answered, on a new connection


def test_connections_opened_under_load_are_kept(postgres_schema: str) -> None:
    database = Database(postgres_schema, PoolOptions(size=1, max_overflow=2))

    def slow_backend(connection: Connection) -> int:
        sql = "SELECT pg_backend_pid() FROM pg_sleep(0.05)"  # holds its connection a while
        return int(connection.exec_driver_sql(sql).scalar_one())

    async def rounds() -> tuple[set[int], set[int]]:
        try:
            lone: set[int] = set()
            transactions: set[int] = set()
            for _ in range(5):  # three at once each time: the pool's size and its overflow
                lone |= set(
                    await asyncio.gather(
                        *(database.read(slow_backend, one_statement=True) for _ in range(3))
                    )
                )
                transactions |= set(
                    await asyncio.gather(*(database.run(slow_backend) for _ in range(3)))
                )
            return lone, transactions
        finally:
            await database.aclose()

    try:
        lone, transactions = asyncio.run(rounds())
    finally:
        database.close()
    # Closing the overflow as it came back would have opened two more in each round.
    assert len(lone) == 3
    assert len(transactions) == 3
