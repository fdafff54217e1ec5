"""Each meeting's JSON as a response shows it, stored with the meeting.

A list page made each of its meetings from twelve columns, its two date-times parsed, and
encoded them again: a third of a served page's instructions (bench/README.md, tenth session).
Now the writer stores the JSON as well, and a page, or a GET, reads it as one column.
`shown_version` is the version that JSON was written for: a row written by an older
gong-meetings (before this revision, or by an instance not yet restarted after it) does not
match its version, and is read from its columns, as before. So no row needs filling in here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place: rebuilding the table would break the foreign keys that point at it.
    with op.batch_alter_table("meetings", recreate="never") as batch:
        batch.add_column(sa.Column("shown", sa.Text(), nullable=True))
        batch.add_column(sa.Column("shown_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings", recreate="never") as batch:
        batch.drop_column("shown_version")
        batch.drop_column("shown")
