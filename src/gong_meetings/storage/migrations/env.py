"""Alembic environment: always given an open connection by gong_meetings.storage.migrate."""

from alembic import context

from gong_meetings.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite can only alter tables by copying them.
)
with context.begin_transaction():
    context.run_migrations()
