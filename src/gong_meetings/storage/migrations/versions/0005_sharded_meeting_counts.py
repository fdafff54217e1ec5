"""Each workspace's meeting count kept in shards, so that creates do not queue on one row.

Every create and delete added to the workspace's one meeting_counts row, and on PostgreSQL
that row stayed locked until the transaction committed: every create in a workspace waited for
the one before it, whichever server instance ran it (bench/README.md, seventh session). A
count is now the sum of its workspace's rows, one per shard; the count that was kept becomes
shard 0.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts_table(*, sharded: bool) -> sa.Table:
    """meeting_counts as created, and at once as a table to insert into."""
    columns = [sa.Column("workspace_id", sa.Integer(), nullable=False)]
    if sharded:
        columns.append(sa.Column("shard", sa.Integer(), nullable=False))
    return op.create_table(
        "meeting_counts",
        *columns,
        sa.Column("meetings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*(c.name for c in columns), name="pk_meeting_counts"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_meeting_counts_workspace_id_workspaces"
        ),
    )


def _totals() -> list[dict[str, int]]:
    """Each workspace's count, summed over its rows, whichever shape the table has."""
    rows = op.get_bind().execute(
        sa.text("SELECT workspace_id, sum(meetings) FROM meeting_counts GROUP BY workspace_id")
    )
    return [{"workspace_id": row[0], "meetings": int(row[1])} for row in rows]


# The table holds one row a workspace (or a few dozen once sharded): rebuilt, not altered,
# which is the same on SQLite, where a primary key cannot be altered, and on PostgreSQL.
def upgrade() -> None:
    totals = _totals()
    op.drop_table("meeting_counts")
    counts = _counts_table(sharded=True)
    if totals:
        op.bulk_insert(counts, [{**total, "shard": 0} for total in totals])


def downgrade() -> None:
    totals = _totals()
    op.drop_table("meeting_counts")
    counts = _counts_table(sharded=False)
    if totals:
        op.bulk_insert(counts, totals)
