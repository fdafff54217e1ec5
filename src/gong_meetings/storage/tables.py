"""The schema as SQLAlchemy Core tables. Migrations in `migrations/` build exactly this."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite

from gong_meetings.records import DEFAULT_CALLS_PER_DAY, DEFAULT_CALLS_PER_SECOND

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# On SQLite an INTEGER PRIMARY KEY is the rowid itself: the fastest table layout it has.
MeetingIdType = BigInteger().with_variant(Integer, "sqlite")
Timestamp = DateTime(timezone=True)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("auto_provision_users", Boolean, nullable=False, default=False),
    Column("created_at", Timestamp, nullable=False),
    Column(
        "calls_per_second", Integer, nullable=False, server_default=str(DEFAULT_CALLS_PER_SECOND)
    ),
    Column("calls_per_day", Integer, nullable=False, server_default=str(DEFAULT_CALLS_PER_DAY)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("access_key", Text, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("secret_digest", LargeBinary, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    # Stored lower-cased: addresses are matched case-insensitively.
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("workspace_id", "email"),
)

integrations = Table(
    "integrations",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The canonical provider name, such as "Google Meet".
    Column("provider", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("details", Text, nullable=True),
    Column("updated_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("user_id", "provider"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", MeetingIdType, primary_key=True, autoincrement=False),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("scheduled_start", Timestamp, nullable=False),
    Column("scheduled_end", Timestamp, nullable=False),
    Column("organizer_email", Text, nullable=False),
    Column("meeting_url", Text, nullable=False),
    # The attendee list as JSON text: it is always read and replaced whole.
    Column("attendees", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("meeting_provider", Text, nullable=True),
    Column("external_meeting_id", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    # The meeting's JSON as a response shows it, written for version `shown_version`: lists
    # and GET read it instead of the columns above, unless an older writer left it (0006).
    Column("shown", Text, nullable=True),
    Column("shown_version", Integer, nullable=True),
    # Lists walk this in order: a page is one index range scan, whatever the table's size.
    Index(None, "workspace_id", "scheduled_start", "id"),
)

# Who is in each meeting, by lower-cased email, for the organizerEmail and attendeeEmail
# filters: ordered like a list, so a filtered page is one index range scan too.
meeting_people = Table(
    "meeting_people",
    metadata,
    Column(
        "meeting_id",
        MeetingIdType,
        ForeignKey("meetings.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # ORGANIZER or ATTENDEE.
    Column("role", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("workspace_id", Integer, nullable=False),
    Column("scheduled_start", Timestamp, nullable=False),
    PrimaryKeyConstraint("meeting_id", "role", "email"),
    # Named: the generated name would pass PostgreSQL's 63-character limit.
    Index(
        "ix_meeting_people_listing",
        "workspace_id",
        "role",
        "email",
        "scheduled_start",
        "meeting_id",
    ),
)

# Each workspace's number of meetings, kept with every create and delete, so an unfiltered
# list tells its totalRecords without counting a million rows. The count is the sum of the
# workspace's rows: on PostgreSQL each transaction adds to a shard of its own, since one row
# would stay locked by each create until its commit, and the next create would wait for it.
meeting_counts = Table(
    "meeting_counts",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("meetings", Integer, nullable=False),
)

# What a create with an Idempotency-Key answered, to answer a repeat the same way.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("key", Text, nullable=False),
    # SHA-256 of the request's canonical JSON: a repeat must send the same request.
    Column("request_digest", LargeBinary, nullable=False),
    # The meeting as created, JSON; None only inside the transaction that creates it.
    Column("meeting", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False, index=True),
    PrimaryKeyConstraint("workspace_id", "key"),
)

# Secrets the server generates for itself and every instance must share, such as the key
# that signs list cursors.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    # A public handle for listing and revoking; the token itself is never stored.
    Column("token_id", Text, primary_key=True),
    Column("digest", LargeBinary, nullable=False, unique=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False, index=True),
    # The key that asked for it at the token endpoint; None when issued with the CLI.
    Column("access_key", Text, ForeignKey("api_keys.access_key"), nullable=True),
    # Granted scopes, space-separated as OAuth 2.0 writes them.
    Column("scope", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
)


def insert_or_skip(
    connection: Connection, table: Table, unique: list[str]
) -> postgresql.Insert | sqlite.Insert:
    """INSERT that does nothing when a row with the same `unique` columns exists.

    One statement, safe against another process inserting the same key at the same moment.
    """
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)
