"""UTC instants in and out of the database, the same on every backend."""

from datetime import UTC, datetime


def to_db(value: datetime) -> datetime:
    """SQLite stores date-times without an offset, so every stored instant is UTC."""
    return value.astimezone(UTC)


def from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)
