"""Lone reads on PostgreSQL (`Database.read(..., one_statement=True)`: a get, an
integration-status) run in autocommit, with no transaction around them. Neither pool pings a
connection before using it, so reads and transactions alike survive the server dropping the
pooled connections they would use, by running once more on a new one; but a transaction is
never run again once its COMMIT was sent, since it may have been stored. And the pools keep
the connections they open under load, rather than open and close one for most requests."""

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterator

import pytest
from sqlalchemy import Connection, event, text

from gong_meetings.config import PoolOptions
from gong_meetings.errors import ServiceUnavailable
from gong_meetings.storage.database import Database
from gong_meetings.storage.driver import execute, fetch_one
from tests.postgres import empty_tables


@pytest.fixture
def database(postgres_schema: str) -> Iterator[Database]:
    empty_tables(postgres_schema)
    database = Database(postgres_schema)
    yield database
    database.close()  # each test disposes of the async pools on its own event loop


def in_transaction(connection: Connection) -> bool:
    """Whether the connection is inside a transaction after a statement, as the server told
    the driver (asyncpg, which sends BEGIN before the first statement of a transaction)."""
    fetch_one(connection, "SELECT 1", {})
    driver = connection.connection.driver_connection
    return driver.is_in_transaction()  # type: ignore[union-attr,no-any-return]


def backend(connection: Connection) -> int:
    """The connection's server process, asked as the service's own statements ask."""
    row = fetch_one(connection, "SELECT pg_backend_pid()", {})
    assert row is not None
    return int(row[0])


def terminate(url: str, pids: set[int]) -> None:
    """Have the server drop these connections, as a restart or a failover would."""
    admin = Database(url)
    try:
        with admin.engine.begin() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.close()


async def fill_the_pool_then_drop_it(
    call: Callable[[Callable[[Connection], int]], Awaitable[int]], url: str
) -> set[int]:
    """Several connections in the pool, as under load, each then dropped by the server."""
    backends = set(await asyncio.gather(*(call(backend) for _ in range(4))))
    terminate(url, backends)
    return backends


def workspaces_named(url: str, name: str) -> int:
    admin = Database(url)
    try:
        with admin.engine.begin() as connection:
            sql = text("SELECT count(*) FROM workspaces WHERE name = :name")
            return int(connection.execute(sql, {"name": name}).scalar_one())
    finally:
        admin.close()


def add_workspace(name: str) -> Callable[[Connection], int]:
    """A transaction's work: a row written, and the connection's backend."""

    def work(connection: Connection) -> int:
        pid = backend(connection)
        sql = (
            "INSERT INTO workspaces (name, auto_provision_users, created_at)"
            " VALUES (:name, true, now())"
        )
        execute(connection, sql, {"name": name})
        return pid

    return work


def test_a_lone_read_runs_outside_a_transaction(database: Database) -> None:
    async def both() -> tuple[bool, bool]:
        try:
            lone = await database.read(in_transaction, one_statement=True)
            several = await database.read(in_transaction)
            return lone, several
        finally:
            await database.aclose()

    lone, several = asyncio.run(both())
    assert not lone  # no BEGIN was sent
    assert several


def test_a_lone_read_survives_the_server_dropping_its_connections(
    database: Database, postgres_schema: str
) -> None:
    async def scenario() -> tuple[set[int], int]:
        try:
            lone_read = functools.partial(database.read, one_statement=True)
            dropped = await fill_the_pool_then_drop_it(lone_read, postgres_schema)
            return dropped, await database.read(backend, one_statement=True)
        finally:
            await database.aclose()

    dropped, after = asyncio.run(scenario())
    assert dropped
    assert after not in dropped  # answered, on a new connection


def test_a_transaction_survives_the_server_dropping_its_connections(
    database: Database, postgres_schema: str
) -> None:
    async def scenario() -> tuple[set[int], int]:
        try:
            dropped = await fill_the_pool_then_drop_it(database.run, postgres_schema)
            return dropped, await database.run(add_workspace("after the drop"))
        finally:
            await database.aclose()

    dropped, after = asyncio.run(scenario())
    assert dropped
    assert after not in dropped  # answered, on a new connection
    assert workspaces_named(postgres_schema, "after the drop") == 1


def test_a_transaction_whose_commit_was_lost_is_not_run_again(
    database: Database, postgres_schema: str
) -> None:
    runs: list[int] = []

    def counted(connection: Connection) -> int:
        runs.append(add_workspace("lost at commit")(connection))
        return runs[-1]

    def drop_before_commit(connection: Connection) -> None:
        terminate(postgres_schema, {backend(connection)})

    async def scenario() -> None:
        try:
            engine = database._postgres_engine()  # the transactions' pool, made here to hook it
            event.listen(engine.sync_engine, "commit", drop_before_commit)
            with pytest.raises(ServiceUnavailable):
                await database.run(counted)
            event.remove(engine.sync_engine, "commit", drop_before_commit)
            # The pool recovers for the next transaction.
            await database.run(add_workspace("next"))
        finally:
            await database.aclose()

    asyncio.run(scenario())
    # Whether a COMMIT whose connection dropped was stored cannot be known: run once only,
    # and the client told the service was unavailable (here the server never received it).
    assert len(runs) == 1
    assert workspaces_named(postgres_schema, "lost at commit") == 0
    assert workspaces_named(postgres_schema, "next") == 1


def test_a_read_cut_off_by_the_deadline_does_not_lend_its_connection_again(
    database: Database,
) -> None:
    """A statement abandoned at the deadline leaves its connection in an unknown state (the
    driver cancelling the query, perhaps mid-message): it is closed, not pooled again."""
    cut_off: list[int] = []

    def slow(connection: Connection) -> int:
        cut_off.append(backend(connection))
        fetch_one(connection, "SELECT pg_sleep(3)", {})
        return cut_off[-1]

    async def scenario() -> int:
        pool = database._postgres_engine(autocommit=True).sync_engine.pool
        try:
            database._deadline_seconds = 0.5  # the server would take 3 s
            with pytest.raises(ServiceUnavailable):
                await database.read(slow, one_statement=True)
            for _ in range(100):  # the abandoned read finishes on its own
                if pool.checkedout() == 0:  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.05)
            database._deadline_seconds = 30
            return await database.read(backend, one_statement=True)
        finally:
            await database.aclose()

    after = asyncio.run(scenario())
    assert len(cut_off) == 1
    assert after != cut_off[0]


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
