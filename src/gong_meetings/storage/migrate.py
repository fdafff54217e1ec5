"""Schema versions: what the database has, what the code needs, and the upgrade between."""

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from gong_meetings.errors import SchemaNotCurrent

# An arbitrary constant naming gong-meetings' migration lock among PostgreSQL advisory locks.
MIGRATION_LOCK = 0x6D656574696E6773  # "meetings"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("gong_meetings.storage") / "migrations"))
    return config


def head_revision() -> str:
    """The schema revision this code was written for."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return _current_revision(connection)


def _refuse_unknown(current: str | None) -> None:
    known = {
        script.revision
        for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
    }
    if current is not None and current not in known:
        raise SchemaNotCurrent(
            f"the database schema is at revision {current}, newer than this gong-meetings"
            f" knows (head {head_revision()}); upgrade the gong-meetings package"
        )


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply every pending migration, in one transaction that holds the write lock."""
    config = _alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # A migration may take longer than the request timeouts allow, and so may waiting
            # for another instance's migration to finish.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            # Several instances may run `migrate` at once: one migrates, the others wait and
            # then find nothing to do. (SQLite's BEGIN IMMEDIATE already serialises them.)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = _current_revision(connection)
        _refuse_unknown(before)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, head_revision()


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """Upgrade an old schema when allowed; otherwise refuse to work on it."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    _refuse_unknown(current)
    if not auto_upgrade:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaNotCurrent(
            f"the database schema is {state}, but this gong-meetings needs revision {head};"
            " run `gong-meetings migrate` first"
        )
    upgrade(engine)
