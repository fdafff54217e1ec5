"""OAuth 2.0 bearer tokens, stored as digests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.Text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("access_key", sa.Text(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_tokens"),
        sa.UniqueConstraint("digest", name="uq_tokens_digest"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_tokens_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["access_key"], ["api_keys.access_key"], name="fk_tokens_access_key_api_keys"
        ),
    )
    op.create_index("ix_tokens_workspace_id", "tokens", ["workspace_id"])


def downgrade() -> None:
    op.drop_index("ix_tokens_workspace_id", "tokens")
    op.drop_table("tokens")
