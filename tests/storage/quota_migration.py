"""Migration 0003 (per-workspace rate limits), checked the same way on SQLite and PostgreSQL.

A database is built at revision 0002, given rows as the previous release wrote them, and
upgraded; or built at head and downgraded to 0002. The rows must survive both ways.
"""

import sqlalchemy as sa
from alembic import command

from gong_meetings.records import Quota
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import _alembic_config, current_revision, head_revision, upgrade
from gong_meetings.storage.tables import api_keys, users, workspaces
from gong_meetings.storage.timestamps import now
from tests.storage.schema import assert_schema_matches_tables

BEFORE = "0002"
GONG_QUOTA = Quota(3, 10_000)
COLUMNS_AT_0002 = {"id", "name", "auto_provision_users", "created_at"}
QUOTA_COLUMNS = {"calls_per_second", "calls_per_day"}


def migrate_to(database: Database, revision: str) -> None:
    config = _alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade_to(database: Database, revision: str) -> None:
    config = _alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def workspace_columns(database: Database) -> set[str]:
    return {c["name"] for c in sa.inspect(database.engine).get_columns("workspaces")}


def insert_old_workspace(connection: sa.Connection, name: str, auto: bool) -> int:
    """A workspace row as release 0002 inserts it: no limit columns named."""
    return connection.execute(
        sa.insert(workspaces)
        .values(name=name, auto_provision_users=auto, created_at=now())
        .returning(workspaces.c.id)
    ).scalar_one()


def children(database: Database) -> list[tuple[object, ...]]:
    """The rows that refer to workspaces, which neither direction may lose."""
    with database.engine.connect() as connection:
        return [
            *connection.execute(
                sa.select(users.c.workspace_id, users.c.email).order_by(users.c.id)
            ),
            *connection.execute(
                sa.select(api_keys.c.workspace_id, api_keys.c.access_key).order_by(
                    api_keys.c.access_key
                )
            ),
        ]


def check_upgrade_from_0002(database: Database) -> None:
    """Workspaces made before the limits existed get Gong's: 3 a second, 10,000 a day."""
    migrate_to(database, BEFORE)
    assert current_revision(database.engine) == BEFORE
    assert workspace_columns(database) == COLUMNS_AT_0002
    with database.engine.begin() as connection:
        first = insert_old_workspace(connection, "old", False)
        insert_old_workspace(connection, "old-auto", True)
        connection.execute(
            sa.insert(users).values(
                workspace_id=first, email="a@old.test", name="A", created_at=now()
            )
        )
        connection.execute(
            sa.insert(api_keys).values(
                access_key="OLDKEY", workspace_id=first, secret_digest=b"x", created_at=now()
            )
        )
    before = children(database)

    assert upgrade(database.engine) == (BEFORE, head_revision())

    assert_schema_matches_tables(database.engine)
    accounts = AccountService(database)
    assert [(w.name, w.auto_provision_users, w.quota) for w in accounts.list_workspaces()] == [
        ("old", False, GONG_QUOTA),
        ("old-auto", True, GONG_QUOTA),
    ]
    assert children(database) == before
    # The new columns work: the old rows' limits can be changed.
    updated = accounts.update_workspace("old", calls_per_second=9)
    assert updated.quota == Quota(9, 10_000)
    assert {w.name: w.quota for w in accounts.list_workspaces()}["old"] == Quota(9, 10_000)


def check_rows_written_without_limits_get_gongs(database: Database) -> None:
    """An instance still on the previous release inserts without the new columns: while
    both run (a rolling upgrade), its workspaces get Gong's limits from the column defaults."""
    upgrade(database.engine)
    with database.engine.begin() as connection:
        insert_old_workspace(connection, "from-old-code", False)
    (workspace,) = AccountService(database).list_workspaces()
    assert workspace.quota == GONG_QUOTA


def check_downgrade_to_0002(database: Database) -> None:
    """Downgrading drops the two columns and keeps every workspace and what refers to it."""
    upgrade(database.engine)
    accounts = AccountService(database)
    accounts.create_workspace("acme", True, Quota(7, 70))
    accounts.create_workspace("empty")
    accounts.add_user("acme", "a@acme.test", "Ann")
    accounts.create_key("acme")
    before = children(database)

    downgrade_to(database, BEFORE)

    assert current_revision(database.engine) == BEFORE
    assert workspace_columns(database) == COLUMNS_AT_0002
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT name, auto_provision_users FROM workspaces ORDER BY id")
        ).all()
    assert [(name, bool(auto)) for name, auto in rows] == [("acme", True), ("empty", False)]
    assert children(database) == before

    # And up again: the rows are back at Gong's limits (the custom ones went with the columns).
    upgrade(database.engine)
    assert_schema_matches_tables(database.engine)
    assert [(w.name, w.quota) for w in accounts.list_workspaces()] == [
        ("acme", GONG_QUOTA),
        ("empty", GONG_QUOTA),
    ]
    assert children(database) == before
