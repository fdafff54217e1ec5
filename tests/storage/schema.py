"""The schema the migrations built, compared with tables.py: shared by SQLite and PostgreSQL."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gong_meetings.storage.tables import metadata

SCHEMA_TABLES = set(metadata.tables)


def assert_schema_matches_tables(engine: sa.Engine) -> None:
    """Exactly the tables in tables.py: names, columns, nullability, keys, and no drift."""
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == SCHEMA_TABLES | {"alembic_version"}
    for name, table in metadata.tables.items():
        columns = inspector.get_columns(name)
        assert [c["name"] for c in columns] == [c.name for c in table.columns], name
        assert {c["name"]: c["nullable"] for c in columns} == {
            c.name: c.nullable for c in table.columns
        }, name
        assert inspector.get_pk_constraint(name)["constrained_columns"] == [
            c.name for c in table.primary_key.columns
        ], name
        assert {
            (tuple(fk["constrained_columns"]), fk["referred_table"])
            for fk in inspector.get_foreign_keys(name)
        } == {
            (tuple(fk.column_keys), fk.elements[0].column.table.name)
            for fk in table.foreign_key_constraints
        }, name
    # Alembic's own comparison (types, indexes, constraints, foreign keys): no drift at all.
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
