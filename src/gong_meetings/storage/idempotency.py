"""Queries on idempotency keys: what a create with a key answered, kept for a while."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, select, tuple_, update

from gong_meetings.storage.tables import idempotency_keys, insert_or_skip
from gong_meetings.storage.timestamps import from_db, now, to_db

# Expired keys removed by each keyed create, so that old ones never pile up.
_PURGE_BATCH = 100


@dataclass(frozen=True, slots=True)
class StoredKey:
    request_digest: bytes
    meeting: str | None
    expires_at: datetime


def _key(workspace_id: int, key: str) -> ColumnElement[bool]:
    return (idempotency_keys.c.workspace_id == workspace_id) & (idempotency_keys.c.key == key)


def claim_key(
    connection: Connection, workspace_id: int, key: str, digest: bytes, expires_at: datetime
) -> bool:
    """Take `key` for a new create; False when it is taken already (by a committed create, or
    one that commits while we wait: the insert waits for it on PostgreSQL)."""
    result = connection.execute(
        insert_or_skip(connection, idempotency_keys, ["workspace_id", "key"])
        .values(
            workspace_id=workspace_id,
            key=key,
            request_digest=digest,
            meeting=None,
            created_at=now(),
            expires_at=to_db(expires_at),
        )
        .returning(idempotency_keys.c.key)
    )
    return result.first() is not None


def find_key(connection: Connection, workspace_id: int, key: str) -> StoredKey | None:
    row = connection.execute(select(idempotency_keys).where(_key(workspace_id, key))).first()
    if row is None:
        return None
    return StoredKey(bytes(row.request_digest), row.meeting, from_db(row.expires_at))


def record_answer(connection: Connection, workspace_id: int, key: str, meeting: str) -> None:
    connection.execute(
        update(idempotency_keys).where(_key(workspace_id, key)).values(meeting=meeting)
    )


def forget_key(connection: Connection, workspace_id: int, key: str) -> None:
    connection.execute(delete(idempotency_keys).where(_key(workspace_id, key)))


def purge_expired(connection: Connection) -> None:
    """Remove a batch of expired keys, whoever's they were."""
    expired = (
        select(idempotency_keys.c.workspace_id, idempotency_keys.c.key)
        .where(idempotency_keys.c.expires_at <= now())
        .limit(_PURGE_BATCH)
    )
    connection.execute(
        delete(idempotency_keys).where(
            tuple_(idempotency_keys.c.workspace_id, idempotency_keys.c.key).in_(expired)
        )
    )
