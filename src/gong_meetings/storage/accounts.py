"""Queries on workspaces, API keys, users and their provider integrations."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gong_meetings.errors import Conflict
from gong_meetings.records import ApiKey, Integration, Quota, User, Workspace
from gong_meetings.storage.driver import fetch_all, fetch_one
from gong_meetings.storage.tables import (
    api_keys,
    insert_or_skip,
    integrations,
    users,
    workspaces,
)
from gong_meetings.storage.timestamps import from_db, now

# The workspace's limits, selected beside a key or token so one lookup tells all.
quota_columns = (workspaces.c.calls_per_second, workspaces.c.calls_per_day)


def quota_of(row: Row[tuple[object, ...]]) -> Quota:
    return Quota(row.calls_per_second, row.calls_per_day)


def _workspace(row: Row[tuple[object, ...]]) -> Workspace:
    return Workspace(
        row.id, row.name, bool(row.auto_provision_users), from_db(row.created_at), quota_of(row)
    )


def create_workspace(
    connection: Connection, name: str, auto_provision_users: bool, quota: Quota
) -> Workspace:
    created_at = now()
    try:
        with connection.begin_nested():
            workspace_id = connection.execute(
                insert(workspaces)
                .values(
                    name=name,
                    auto_provision_users=auto_provision_users,
                    created_at=created_at,
                    calls_per_second=quota.per_second,
                    calls_per_day=quota.per_day,
                )
                .returning(workspaces.c.id)
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"workspace {name!r} already exists") from None
    return Workspace(workspace_id, name, auto_provision_users, created_at, quota)


def update_workspace(
    connection: Connection, workspace_id: int, auto_provision_users: bool, quota: Quota
) -> None:
    connection.execute(
        update(workspaces)
        .where(workspaces.c.id == workspace_id)
        .values(
            auto_provision_users=auto_provision_users,
            calls_per_second=quota.per_second,
            calls_per_day=quota.per_day,
        )
    )


def list_workspaces(connection: Connection) -> list[Workspace]:
    rows = connection.execute(select(workspaces).order_by(workspaces.c.id))
    return [_workspace(row) for row in rows]


def count_workspaces(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(workspaces)).scalar_one()


def find_workspace(connection: Connection, name: str) -> Workspace | None:
    row = connection.execute(select(workspaces).where(workspaces.c.name == name)).first()
    return None if row is None else _workspace(row)


def get_workspace(connection: Connection, workspace_id: int) -> Workspace:
    row = connection.execute(select(workspaces).where(workspaces.c.id == workspace_id)).one()
    return _workspace(row)


def insert_key(
    connection: Connection, workspace_id: int, access_key: str, secret_digest: bytes
) -> None:
    connection.execute(
        insert(api_keys).values(
            access_key=access_key,
            workspace_id=workspace_id,
            secret_digest=secret_digest,
            created_at=now(),
        )
    )


_key_columns = (*api_keys.c, workspaces.c.name.label("workspace_name"), *quota_columns)


def _api_key(row: Row[tuple[object, ...]]) -> ApiKey:
    revoked_at = row.revoked_at
    return ApiKey(
        row.access_key,
        row.workspace_id,
        row.workspace_name,
        bytes(row.secret_digest),
        from_db(row.created_at),
        None if revoked_at is None else from_db(revoked_at),
        quota_of(row),
    )


def find_key(connection: Connection, access_key: str) -> ApiKey | None:
    row = connection.execute(
        select(*_key_columns)
        .join_from(api_keys, workspaces)
        .where(api_keys.c.access_key == access_key)
    ).first()
    return None if row is None else _api_key(row)


def list_keys(connection: Connection, workspace_id: int) -> list[ApiKey]:
    rows = connection.execute(
        select(*_key_columns)
        .join_from(api_keys, workspaces)
        .where(api_keys.c.workspace_id == workspace_id)
        .order_by(api_keys.c.created_at, api_keys.c.access_key)
    )
    return [_api_key(row) for row in rows]


def revoke_key(connection: Connection, access_key: str) -> bool:
    """Mark a key revoked; False when no such key is active."""
    result = connection.execute(
        update(api_keys)
        .where(api_keys.c.access_key == access_key, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return result.rowcount == 1


def _user(row: Row[tuple[object, ...]]) -> User:
    return User(row.id, row.workspace_id, row.email, row.name, from_db(row.created_at))


def add_user(connection: Connection, workspace_id: int, email: str, name: str | None) -> User:
    created_at = now()
    try:
        with connection.begin_nested():
            user_id = connection.execute(
                insert(users)
                .values(workspace_id=workspace_id, email=email, name=name, created_at=created_at)
                .returning(users.c.id)
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"user {email} already exists in this workspace") from None
    return User(user_id, workspace_id, email, name, created_at)


def ensure_user(connection: Connection, workspace_id: int, email: str) -> None:
    """Register `email` unless it is already a user; safe when two requests race to do it."""
    connection.execute(
        insert_or_skip(connection, users, ["workspace_id", "email"]).values(
            workspace_id=workspace_id, email=email, name=None, created_at=now()
        )
    )


def find_user(connection: Connection, workspace_id: int, email: str) -> User | None:
    row = connection.execute(
        select(users).where(users.c.workspace_id == workspace_id, users.c.email == email)
    ).first()
    return None if row is None else _user(row)


def user_exists(connection: Connection, workspace_id: int, email: str) -> bool:
    """Whether the workspace has this (lower-cased) user: on every create, so plain SQL."""
    sql = "SELECT 1 FROM users WHERE workspace_id = :workspace_id AND email = :email"
    return fetch_one(connection, sql, {"workspace_id": workspace_id, "email": email}) is not None


def list_users(connection: Connection, workspace_id: int) -> list[User]:
    rows = connection.execute(
        select(users).where(users.c.workspace_id == workspace_id).order_by(users.c.email)
    )
    return [_user(row) for row in rows]


def remove_user(connection: Connection, workspace_id: int, email: str) -> bool:
    """Delete a user and, by cascade, their integrations; False when there was none."""
    user = find_user(connection, workspace_id, email)
    if user is None:
        return False
    connection.execute(delete(integrations).where(integrations.c.user_id == user.id))
    connection.execute(delete(users).where(users.c.id == user.id))
    return True


def set_integration(
    connection: Connection, user_id: int, provider: str, status: str, details: str | None
) -> None:
    """Create or replace one user's integration with one provider."""
    connection.execute(
        delete(integrations).where(
            integrations.c.user_id == user_id, integrations.c.provider == provider
        )
    )
    connection.execute(
        insert(integrations).values(
            user_id=user_id, provider=provider, status=status, details=details, updated_at=now()
        )
    )


_LIST_INTEGRATIONS = (
    "SELECT users.email, integrations.provider, integrations.status, integrations.details,"
    " integrations.updated_at"
    " FROM integrations JOIN users ON users.id = integrations.user_id"
    " WHERE users.workspace_id = :workspace_id"
)
_ONE_USERS = " AND users.email = :email"
_ONE_PROVIDERS = " AND integrations.provider = :provider"
_INTEGRATIONS_ORDER = " ORDER BY users.email, integrations.provider"
_USER_AND_INTEGRATIONS = (
    "SELECT users.email, integrations.provider, integrations.status, integrations.details,"
    " integrations.updated_at"
    " FROM users LEFT JOIN integrations ON integrations.user_id = users.id{provider}"
    " WHERE users.workspace_id = :workspace_id AND users.email = :email"
    " ORDER BY integrations.provider"
)
_USER_AND_ANY_INTEGRATION = _USER_AND_INTEGRATIONS.format(provider="")
_USER_AND_ONE_INTEGRATION = _USER_AND_INTEGRATIONS.format(provider=_ONE_PROVIDERS)


def list_integrations(
    connection: Connection,
    workspace_id: int,
    *,
    email: str | None = None,
    provider: str | None = None,
) -> list[Integration]:
    """The workspace's integrations, optionally only one user's or one provider's. On every
    integration-status call by provider, so plain SQL."""
    sql = _LIST_INTEGRATIONS
    if email is not None:
        sql += _ONE_USERS
    if provider is not None:
        sql += _ONE_PROVIDERS
    rows = fetch_all(
        connection,
        sql + _INTEGRATIONS_ORDER,
        {"workspace_id": workspace_id, "email": email, "provider": provider},
    )
    return [_integration(row) for row in rows]


def _integration(row: Sequence[Any]) -> Integration:
    """A row of (email, provider, status, details, updated_at) as an Integration."""
    return Integration(row[0], row[1], row[2], row[3], from_db(row[4]))


def user_integrations(
    connection: Connection, workspace_id: int, email: str, provider: str | None = None
) -> list[Integration] | None:
    """The user's integrations (only `provider`'s, if given), or None when the workspace has
    no such user: in one statement, which a read needs no transaction around."""
    sql = _USER_AND_ANY_INTEGRATION if provider is None else _USER_AND_ONE_INTEGRATION
    rows = fetch_all(
        connection, sql, {"workspace_id": workspace_id, "email": email, "provider": provider}
    )
    if not rows:
        return None
    # A provider of None is the user's row alone: no integration matched.
    return [_integration(row) for row in rows if row[1] is not None]
