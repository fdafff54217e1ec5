"""Drop the index on meetings (workspace_id, id): no query reads it.

Every lookup of a meeting goes by its id, the primary key, and everything else that asks for a
workspace's meetings goes by the listing index (workspace_id, scheduled_start, id), which also
serves the foreign key to workspaces. Each create still wrote this index: about 3 µs of a
SQLite create's storage (bench/README.md, fourteenth session).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_meetings_workspace_id_id", table_name="meetings")


def downgrade() -> None:
    op.create_index("ix_meetings_workspace_id_id", "meetings", ["workspace_id", "id"])
