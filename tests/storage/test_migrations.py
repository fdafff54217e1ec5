"""The Alembic migrations: what they build, when they run, and when the code refuses to start."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from asgi_lifespan import LifespanManager

from gong_meetings.config import Settings
from gong_meetings.errors import SchemaNotCurrent
from gong_meetings.server import create_app
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import (
    _alembic_config,
    current_revision,
    ensure_current,
    head_revision,
    upgrade,
)
from tests.helpers import Tenant, create_meeting, run_cli
from tests.storage import counts_migration, quota_migration, reading_migration, shown_migration
from tests.storage.schema import SCHEMA_TABLES, assert_schema_matches_tables

UNKNOWN_REVISION = "9999"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/schema.db"


@pytest.fixture
def database(url: str) -> Iterator[Database]:
    db = Database(url)
    yield db
    db.close()


def table_names(database: Database) -> set[str]:
    return set(sa.inspect(database.engine).get_table_names())


def downgrade_to_base(database: Database) -> None:
    config = _alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


def set_revision(database: Database, revision: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    assert code != 0
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- what the migration builds -------------------------------------------------------------


def test_migration_builds_exactly_the_tables_in_tables_py(database: Database) -> None:
    upgrade(database.engine)
    assert_schema_matches_tables(database.engine)


def test_migration_downgrades_cleanly_to_nothing(database: Database) -> None:
    upgrade(database.engine)
    downgrade_to_base(database)
    assert table_names(database) == {"alembic_version"}
    assert current_revision(database.engine) is None


def test_upgrade_is_idempotent_and_reports_revisions(database: Database) -> None:
    head = head_revision()
    assert upgrade(database.engine) == (None, head)
    AccountService(database).create_workspace("kept")
    assert upgrade(database.engine) == (head, head)
    assert current_revision(database.engine) == head
    assert [w.name for w in AccountService(database).list_workspaces()] == ["kept"]


def test_cli_migrate_is_idempotent_and_reports_the_revision(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    head = head_revision()
    code, out, err = run_cli(capsys, "migrate")
    assert (code, out, err) == (0, f"schema upgraded from empty to revision {head}\n", "")
    run_cli(capsys, "workspaces", "create", "kept")
    code, out, err = run_cli(capsys, "migrate")
    assert (code, out, err) == (0, f"schema already at revision {head}\n", "")
    code, out, _ = run_cli(capsys, "workspaces", "list")
    assert code == 0 and out.startswith("kept\t")


# --- automatic upgrade on SQLite -----------------------------------------------------------


def test_create_app_upgrades_a_fresh_sqlite_database(tmp_path: Path, url: str) -> None:
    assert not (tmp_path / "schema.db").exists()
    create_app(Settings(database_url=url))
    database = Database(url)
    try:
        assert current_revision(database.engine) == head_revision()
        assert table_names(database) == SCHEMA_TABLES | {"alembic_version"}
    finally:
        database.close()


def test_a_cli_command_upgrades_a_fresh_sqlite_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    assert run_cli(capsys, "workspaces", "create", "acme") == (0, "created workspace acme\n", "")
    database = Database(url)
    try:
        assert current_revision(database.engine) == head_revision()
    finally:
        database.close()


def test_create_app_upgrades_a_database_at_an_older_revision(database: Database, url: str) -> None:
    upgrade(database.engine)
    downgrade_to_base(database)
    assert table_names(database) == {"alembic_version"}

    create_app(Settings(database_url=url))

    assert current_revision(database.engine) == head_revision()
    assert table_names(database) == SCHEMA_TABLES | {"alembic_version"}


def test_an_empty_alembic_version_table_is_upgraded_by_cli_and_app(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database: Database,
    url: str,
) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    code, out, err = run_cli(capsys, "workspaces", "list")
    assert (code, out, err) == (0, "", "")
    assert current_revision(database.engine) == head_revision()
    # And the app starts on it without complaint.
    create_app(Settings(database_url=url))


# --- refusing to start ---------------------------------------------------------------------


@pytest.mark.parametrize("older", ["empty", "base"])
def test_ensure_current_without_auto_upgrade_refuses_and_says_to_migrate(
    database: Database, older: str
) -> None:
    if older == "base":
        upgrade(database.engine)
        downgrade_to_base(database)
    tables_before = table_names(database)

    with pytest.raises(SchemaNotCurrent) as raised:
        ensure_current(database.engine, auto_upgrade=False)

    message = str(raised.value)
    assert "gong-meetings migrate" in message
    assert head_revision() in message
    assert table_names(database) == tables_before  # nothing was created behind its back
    assert current_revision(database.engine) is None


def test_ensure_current_accepts_a_current_schema(database: Database) -> None:
    upgrade(database.engine)
    ensure_current(database.engine, auto_upgrade=False)
    ensure_current(database.engine, auto_upgrade=True)
    assert current_revision(database.engine) == head_revision()


@pytest.mark.parametrize("auto_upgrade", [True, False])
def test_ensure_current_refuses_an_unknown_newer_revision(
    database: Database, auto_upgrade: bool
) -> None:
    upgrade(database.engine)
    set_revision(database, UNKNOWN_REVISION)
    with pytest.raises(SchemaNotCurrent, match=f"{UNKNOWN_REVISION}.*newer"):
        ensure_current(database.engine, auto_upgrade=auto_upgrade)
    assert current_revision(database.engine) == UNKNOWN_REVISION


def test_create_app_refuses_an_unknown_newer_revision(database: Database, url: str) -> None:
    upgrade(database.engine)
    set_revision(database, UNKNOWN_REVISION)
    with pytest.raises(SchemaNotCurrent) as raised:
        create_app(Settings(database_url=url))
    assert UNKNOWN_REVISION in str(raised.value)
    assert "newer" in str(raised.value)
    assert current_revision(database.engine) == UNKNOWN_REVISION


def test_serve_refuses_an_unknown_newer_revision(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database: Database,
    url: str,
) -> None:
    import uvicorn

    def must_not_serve(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("serve started on a schema it does not know")

    monkeypatch.setattr(uvicorn, "run", must_not_serve)
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    upgrade(database.engine)
    set_revision(database, UNKNOWN_REVISION)

    code, out, err = run_cli(capsys, "serve", "--port", "0")
    line = assert_one_line_error(code, err, UNKNOWN_REVISION)
    assert "newer" in line
    assert "accessKeySecret" not in out  # no bootstrap key on a database it refused


@pytest.mark.parametrize("args", [["migrate"], ["workspaces", "list"]])
def test_admin_commands_refuse_an_unknown_newer_revision_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database: Database,
    url: str,
    args: list[str],
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    upgrade(database.engine)
    set_revision(database, UNKNOWN_REVISION)
    code, out, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, UNKNOWN_REVISION)
    assert out == ""
    assert current_revision(database.engine) == UNKNOWN_REVISION


# --- persistence across handles ------------------------------------------------------------


def test_accounts_survive_closing_and_reopening_the_database(url: str) -> None:
    first = Database(url)
    upgrade(first.engine)
    accounts = AccountService(first)
    accounts.create_workspace("acme", auto_provision_users=True)
    accounts.add_user("acme", "a@acme.test", "Ann")
    accounts.set_integration("acme", "a@acme.test", "zoom", "Active", "ok")
    key = accounts.create_key("acme")
    first.close()

    second = Database(url)
    try:
        ensure_current(second.engine, auto_upgrade=False)
        reopened = AccountService(second)
        assert [(w.name, w.auto_provision_users) for w in reopened.list_workspaces()] == [
            ("acme", True)
        ]
        assert [(u.email, u.name) for u in reopened.list_users("acme")] == [("a@acme.test", "Ann")]
        assert [
            (i.user_email, i.provider, i.status, i.details)
            for i in reopened.list_integrations("acme")
        ] == [("a@acme.test", "Zoom", "Active", "ok")]
        assert [k.access_key for k in reopened.list_keys("acme")] == [key.access_key]
    finally:
        second.close()


async def test_meetings_survive_a_new_app_on_the_same_database(
    settings: Settings, tenant: Tenant
) -> None:
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            created = await create_meeting(http, tenant, title="Survives")

    meeting_id = created["meetingId"]
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.put(f"/v2/meetings/{meeting_id}", json={}, auth=tenant.auth)
            assert response.status_code == 200, response.text
            assert response.json()["meetingId"] == meeting_id
            assert response.json()["meeting"] == created["meeting"]
            assert response.json()["meeting"]["title"] == "Survives"


# --- 0003: per-workspace rate limits (shared with PostgreSQL: tests/storage/quota_migration.py)


def test_upgrade_from_0002_gives_existing_workspaces_gongs_limits(database: Database) -> None:
    quota_migration.check_upgrade_from_0002(database)


def test_rows_written_without_the_limits_get_gongs(database: Database) -> None:
    quota_migration.check_rows_written_without_limits_get_gongs(database)


def test_downgrade_to_0002_drops_the_limits_and_keeps_the_rows(database: Database) -> None:
    quota_migration.check_downgrade_to_0002(database)


# --- 0004: reading meetings back (shared with PostgreSQL: tests/storage/reading_migration.py)


async def test_upgrade_from_0003_fills_meeting_people_and_counts(
    database: Database, url: str
) -> None:
    await reading_migration.check_upgrade_from_0003(database, url)


async def test_downgrade_to_0003_drops_the_new_tables_and_keeps_the_meetings(
    database: Database, url: str
) -> None:
    await reading_migration.check_downgrade_to_0003(database, url)


# --- 0005: meeting counts in shards (shared with PostgreSQL: tests/storage/counts_migration.py)


def test_upgrade_from_0004_keeps_each_count_in_shard_0(database: Database) -> None:
    counts_migration.check_upgrade_from_0004(database)


def test_downgrade_to_0004_sums_each_workspaces_shards(database: Database) -> None:
    counts_migration.check_downgrade_to_0004(database)


# --- 0006: each meeting's JSON stored with it (shared with PostgreSQL: shown_migration.py) ---


def test_upgrade_from_0005_lists_older_meetings_from_their_columns(database: Database) -> None:
    shown_migration.check_upgrade_from_0005(database)


def test_downgrade_to_0005_drops_the_stored_json_and_keeps_the_meetings(
    database: Database,
) -> None:
    shown_migration.check_downgrade_to_0005(database)
