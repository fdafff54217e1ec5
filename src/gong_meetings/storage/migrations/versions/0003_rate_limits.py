"""Per-workspace rate limits: calls per second and per day (Gong's defaults: 3 and 10,000).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", recreate="never") as batch:
        batch.add_column(
            sa.Column("calls_per_second", sa.Integer(), nullable=False, server_default="3")
        )
        batch.add_column(
            sa.Column("calls_per_day", sa.Integer(), nullable=False, server_default="10000")
        )


def downgrade() -> None:
    # In place (SQLite 3.35+ drops columns): rebuilding the table would break the foreign keys
    # that point at it.
    with op.batch_alter_table("workspaces", recreate="never") as batch:
        batch.drop_column("calls_per_day")
        batch.drop_column("calls_per_second")
