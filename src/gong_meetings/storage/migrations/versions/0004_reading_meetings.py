"""Reading meetings back: list indexes, people per meeting, counts, idempotency keys, secrets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
MeetingIdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index(
        "ix_meetings_workspace_id_scheduled_start_id",
        "meetings",
        ["workspace_id", "scheduled_start", "id"],
    )
    op.create_table(
        "meeting_people",
        sa.Column("meeting_id", MeetingIdType, nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_start", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("meeting_id", "role", "email", name="pk_meeting_people"),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name="fk_meeting_people_meeting_id_meetings",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_meeting_people_listing",
        "meeting_people",
        ["workspace_id", "role", "email", "scheduled_start", "meeting_id"],
    )
    op.create_table(
        "meeting_counts",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("meetings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_meeting_counts"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_meeting_counts_workspace_id_workspaces"
        ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("meeting", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "key", name="pk_idempotency_keys"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_idempotency_keys_workspace_id_workspaces",
        ),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_secrets"),
    )
    _fill_people_and_counts()


def _fill_people_and_counts() -> None:
    """The new tables describe the meetings already stored."""
    connection = op.get_bind()
    meetings = sa.table(
        "meetings",
        sa.column("id"),
        sa.column("workspace_id"),
        sa.column("organizer_email"),
        sa.column("attendees"),
        sa.column("scheduled_start", Timestamp),
    )
    people = sa.table(
        "meeting_people",
        sa.column("meeting_id"),
        sa.column("role"),
        sa.column("email"),
        sa.column("workspace_id"),
        sa.column("scheduled_start", Timestamp),
    )
    rows = connection.execute(sa.select(meetings))
    while batch := rows.fetchmany(1000):
        values = []
        for row in batch:
            base = {"meeting_id": row.id, "workspace_id": row.workspace_id}
            base["scheduled_start"] = row.scheduled_start
            emails = {("ORGANIZER", row.organizer_email.lower())}
            emails |= {
                ("ATTENDEE", a["emailAddress"].lower())
                for a in json.loads(row.attendees)
                if a.get("emailAddress")
            }
            values += [{**base, "role": role, "email": email} for role, email in emails]
        if values:
            op.get_bind().execute(people.insert(), values)
    connection.execute(
        sa.text(
            "INSERT INTO meeting_counts (workspace_id, meetings)"
            " SELECT id, (SELECT count(*) FROM meetings WHERE workspace_id = workspaces.id)"
            " FROM workspaces"
        )
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_index("ix_idempotency_keys_expires_at", "idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("meeting_counts")
    op.drop_index("ix_meeting_people_listing", "meeting_people")
    op.drop_table("meeting_people")
    op.drop_index("ix_meetings_workspace_id_scheduled_start_id", "meetings")
