"""UTC instants in and out of the database, the same on every backend."""

from datetime import UTC, datetime


def to_db(value: datetime) -> datetime:
    """SQLite stores date-times without an offset, so every stored instant is UTC."""
    return value.astimezone(UTC)


def from_db(value: datetime | str) -> datetime:
    """An instant as stored: a datetime from SQLAlchemy or psycopg, or on SQLite, read through
    the driver itself, the text SQLAlchemy stored it as (`2030-01-15 10:00:00.000000`)."""
    if isinstance(value, str):
        # Read as UTC in one step: a separate replace(tzinfo=...) cost four times the parse.
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)
