"""The migrations on PostgreSQL: what they build, `migrate`, refusing to serve, and the lock.

Each test gets a new, empty database on the test server (tests.postgres.scratch_database), so
nothing here touches the shared test schema. Without GONG_MEETINGS_TEST_POSTGRES_URL they skip.
"""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gong_meetings.config import Settings
from gong_meetings.errors import SchemaNotCurrent
from gong_meetings.server import create_app
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import MIGRATION_LOCK, current_revision, head_revision, upgrade
from gong_meetings.storage.tables import metadata
from tests.helpers import run_cli
from tests.postgres import postgres_url, scratch_database
from tests.storage import counts_migration, quota_migration, reading_migration, shown_migration
from tests.storage.schema import SCHEMA_TABLES, assert_schema_matches_tables

SCRIPT = Path(sys.executable).with_name("gong-meetings")
# How long a migration may take to reach the lock, and to finish once it has it.
WAIT_SECONDS = 20.0


@pytest.fixture
def scratch() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    with scratch_database(postgres_url()) as url:
        yield url


@pytest.fixture
def database(scratch: str) -> Iterator[Database]:
    db = Database(scratch)
    yield db
    db.close()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, scratch: str) -> str:
    """GONG_MEETINGS_DATABASE_URL names the scratch database, and nothing else is configured."""
    for name in list(os.environ):
        if name.startswith("GONG_MEETINGS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", scratch)
    return scratch


def table_names(database: Database) -> set[str]:
    return set(sa.inspect(database.engine).get_table_names())


def alembic_versions(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        return list(rows.scalars())


# --- what the migrations build ----------------------------------------------------------------


def test_migrations_build_exactly_the_tables_in_tables_py(database: Database) -> None:
    assert upgrade(database.engine) == (None, head_revision())
    assert_schema_matches_tables(database.engine)

    inspector = sa.inspect(database.engine)
    for name, table in metadata.tables.items():
        # Names too: later migrations refer to constraints and indexes by name.
        assert {
            (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(name)
        } == {
            (u.name, tuple(c.name for c in u.columns))
            for u in table.constraints
            if isinstance(u, sa.UniqueConstraint)
        }, name
        assert {
            (i["name"], tuple(i["column_names"]))
            for i in inspector.get_indexes(name)
            if not i.get("duplicates_constraint")  # the index behind a unique constraint
        } == {(i.name, tuple(c.name for c in i.columns)) for i in table.indexes}, name

    # Meeting ids are 19-digit numbers: they need a 64-bit column on PostgreSQL.
    id_column = {c["name"]: c for c in inspector.get_columns("meetings")}["id"]
    assert isinstance(id_column["type"], sa.BigInteger)


def test_the_largest_meeting_id_fits(database: Database) -> None:
    upgrade(database.engine)
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO workspaces (name, auto_provision_users, created_at)"
                " VALUES ('w', false, now())"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO meetings (id, workspace_id, title, scheduled_start, scheduled_end,"
                " organizer_email, meeting_url, attendees, created_at, updated_at, version)"
                " VALUES (9223372036854775807, 1, 't', now(), now(), 'o@x.test', 'http://x',"
                " '[]', now(), now(), 1)"
            )
        )
        assert connection.execute(sa.text("SELECT id FROM meetings")).scalar_one() == 2**63 - 1


# --- gong-meetings migrate ----------------------------------------------------------------------


def test_cli_migrate_applies_the_migrations_and_is_idempotent(
    capsys: pytest.CaptureFixture[str], cli_env: str, database: Database
) -> None:
    head = head_revision()
    assert table_names(database) == set()

    assert run_cli(capsys, "migrate") == (0, f"schema upgraded from empty to revision {head}\n", "")
    assert current_revision(database.engine) == head
    assert table_names(database) == SCHEMA_TABLES | {"alembic_version"}

    assert run_cli(capsys, "workspaces", "create", "kept") == (0, "created workspace kept\n", "")
    assert run_cli(capsys, "migrate") == (0, f"schema already at revision {head}\n", "")
    assert run_cli(capsys, "migrate") == (0, f"schema already at revision {head}\n", "")
    assert alembic_versions(database) == [head]
    code, out, _ = run_cli(capsys, "workspaces", "list")
    assert code == 0 and out.startswith("kept\t"), out


# --- refusing to work on an un-migrated database ------------------------------------------------


def test_create_app_refuses_an_unmigrated_database(database: Database, scratch: str) -> None:
    with pytest.raises(SchemaNotCurrent) as raised:
        create_app(Settings(database_url=scratch))
    message = str(raised.value)
    assert "gong-meetings migrate" in message
    assert head_revision() in message
    # Nothing was created behind the operator's back: PostgreSQL is never auto-upgraded.
    assert table_names(database) == set()


def test_serve_refuses_an_unmigrated_database_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cli_env: str,
    database: Database,
) -> None:
    import uvicorn

    def must_not_serve(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("serve started on an un-migrated database")

    monkeypatch.setattr(uvicorn, "run", must_not_serve)

    code, out, err = run_cli(capsys, "serve", "--port", "0")

    assert code != 0
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "run `gong-meetings migrate`" in lines[0], lines[0]
    assert "accessKeySecret" not in out  # no bootstrap key either
    assert table_names(database) == set()

    # Once migrated, the same database is accepted.
    assert run_cli(capsys, "migrate")[0] == 0
    create_app(Settings(database_url=cli_env))


# --- never two migrations at once -----------------------------------------------------------------


def hold_the_migration_lock(database: Database) -> sa.Connection:
    """A connection holding the migration lock, so migrations started now queue behind it."""
    connection = database.engine.connect()
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    return connection


def wait_for_lock_waiters(gate: sa.Connection, count: int) -> None:
    """Block until `count` sessions wait for an advisory lock in this database."""
    deadline = time.monotonic() + WAIT_SECONDS
    waiting = 0
    while time.monotonic() < deadline:
        waiting = gate.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar_one()
        if waiting == count:
            return
        time.sleep(0.02)
    raise AssertionError(
        f"{count} migrations should be waiting for the migration lock, {waiting} are:"
        " they do not take it, so they could run concurrently"
    )


def test_two_migrate_processes_at_once_take_turns(database: Database, scratch: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONG_MEETINGS_")}
    env["GONG_MEETINGS_DATABASE_URL"] = scratch
    head = head_revision()

    # Both start at once and are made to meet at the lock, so they truly overlap.
    gate = hold_the_migration_lock(database)
    processes = [
        subprocess.Popen(
            [str(SCRIPT), "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        try:
            wait_for_lock_waiters(gate, 2)
        finally:
            gate.rollback()  # releases the lock: now they race for it
            gate.close()
        results = [p.communicate(timeout=WAIT_SECONDS) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [p.returncode for p in processes] == [0, 0], results
    assert all(err == "" for _, err in results), results
    assert sorted(out for out, _ in results) == [
        f"schema already at revision {head}\n",
        f"schema upgraded from empty to revision {head}\n",
    ]
    assert alembic_versions(database) == [head]
    assert table_names(database) == SCHEMA_TABLES | {"alembic_version"}


def test_two_upgrades_in_threads_at_once_take_turns(database: Database, scratch: str) -> None:
    engines = [Database(scratch), Database(scratch)]
    results: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def migrate(db: Database) -> None:
        try:
            start.wait(timeout=WAIT_SECONDS)
            results.append(upgrade(db.engine))
        except BaseException as error:  # reported below, with the other thread's outcome
            errors.append(error)

    gate = hold_the_migration_lock(database)
    threads = [threading.Thread(target=migrate, args=(db,)) for db in engines]
    try:
        for thread in threads:
            thread.start()
        try:
            wait_for_lock_waiters(gate, 2)
        finally:
            gate.rollback()
            gate.close()
        for thread in threads:
            thread.join(timeout=WAIT_SECONDS)
            assert not thread.is_alive()
    finally:
        for db in engines:
            db.close()

    head = head_revision()
    assert errors == []
    assert sorted(results, key=str) == [(head, head), (None, head)]
    assert alembic_versions(database) == [head]
    assert table_names(database) == SCHEMA_TABLES | {"alembic_version"}


# --- 0003: per-workspace rate limits (shared with SQLite: tests/storage/quota_migration.py) ---


def test_upgrade_from_0002_gives_existing_workspaces_gongs_limits(database: Database) -> None:
    quota_migration.check_upgrade_from_0002(database)


def test_rows_written_without_the_limits_get_gongs(database: Database) -> None:
    quota_migration.check_rows_written_without_limits_get_gongs(database)


def test_downgrade_to_0002_drops_the_limits_and_keeps_the_rows(database: Database) -> None:
    quota_migration.check_downgrade_to_0002(database)


# --- 0004: reading meetings back (shared with SQLite: tests/storage/reading_migration.py) -----


async def test_upgrade_from_0003_fills_meeting_people_and_counts(
    database: Database, scratch: str
) -> None:
    await reading_migration.check_upgrade_from_0003(database, scratch)


async def test_downgrade_to_0003_drops_the_new_tables_and_keeps_the_meetings(
    database: Database, scratch: str
) -> None:
    await reading_migration.check_downgrade_to_0003(database, scratch)


# --- 0005: meeting counts in shards (shared with SQLite: tests/storage/counts_migration.py)


def test_upgrade_from_0004_keeps_each_count_in_shard_0(database: Database) -> None:
    counts_migration.check_upgrade_from_0004(database)


def test_downgrade_to_0004_sums_each_workspaces_shards(database: Database) -> None:
    counts_migration.check_downgrade_to_0004(database)


# --- 0006: each meeting's JSON stored with it (shared with SQLite: shown_migration.py) ------


def test_upgrade_from_0005_lists_older_meetings_from_their_columns(database: Database) -> None:
    shown_migration.check_upgrade_from_0005(database)


def test_downgrade_to_0005_drops_the_stored_json_and_keeps_the_meetings(
    database: Database,
) -> None:
    shown_migration.check_downgrade_to_0005(database)
