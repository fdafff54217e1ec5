"""Queries on bearer tokens."""

from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, update

from gong_meetings.records import Token
from gong_meetings.storage.accounts import quota_columns, quota_of
from gong_meetings.storage.tables import api_keys, tokens, workspaces
from gong_meetings.storage.timestamps import from_db, now, to_db

_columns = (
    *tokens.c,
    workspaces.c.name.label("workspace_name"),
    api_keys.c.revoked_at.label("key_revoked_at"),
    *quota_columns,
)


def _token(row: Row[tuple[object, ...]]) -> Token:
    revoked = row.revoked_at or row.key_revoked_at
    return Token(
        token_id=row.token_id,
        workspace_id=row.workspace_id,
        workspace_name=row.workspace_name,
        access_key=row.access_key,
        scopes=frozenset(row.scope.split()),
        created_at=from_db(row.created_at),
        expires_at=from_db(row.expires_at),
        revoked_at=None if revoked is None else from_db(revoked),
        quota=quota_of(row),
    )


_query = (
    select(*_columns)
    .join_from(tokens, workspaces)
    .outerjoin(api_keys, tokens.c.access_key == api_keys.c.access_key)
)


def insert_token(
    connection: Connection,
    token_id: str,
    digest: bytes,
    workspace_id: int,
    access_key: str | None,
    scopes: frozenset[str],
    expires_at: datetime,
) -> None:
    connection.execute(
        insert(tokens).values(
            token_id=token_id,
            digest=digest,
            workspace_id=workspace_id,
            access_key=access_key,
            scope=" ".join(sorted(scopes)),
            created_at=now(),
            expires_at=to_db(expires_at),
        )
    )


def find_token(connection: Connection, digest: bytes) -> Token | None:
    """The token with this digest; revoked when it, or the key that issued it, was revoked."""
    row = connection.execute(_query.where(tokens.c.digest == digest)).first()
    return None if row is None else _token(row)


def list_tokens(connection: Connection, workspace_id: int) -> list[Token]:
    rows = connection.execute(
        _query.where(tokens.c.workspace_id == workspace_id).order_by(tokens.c.created_at)
    )
    return [_token(row) for row in rows]


def revoke_token(connection: Connection, token_id: str) -> bool:
    """Mark a token revoked; False when no such token is active."""
    result = connection.execute(
        update(tokens)
        .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return result.rowcount == 1
