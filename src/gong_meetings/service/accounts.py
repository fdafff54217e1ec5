"""Workspaces, keys, users and integrations: the admin operations behind the CLI."""

from dataclasses import dataclass, replace

from sqlalchemy import Connection

from gong_meetings.errors import Conflict, Missing
from gong_meetings.ids import new_access_key, new_access_key_secret, secret_digest
from gong_meetings.providers import SUPPORTED_PROVIDERS, canonical_provider
from gong_meetings.records import ApiKey, Integration, Quota, User, Workspace
from gong_meetings.service.syntax import is_email, normalize_email
from gong_meetings.storage import accounts as store
from gong_meetings.storage.database import Database

WORKSPACE_NAME_MAX = 100
INTEGRATION_STATUSES = ("Active", "Inactive", "Error")
DEFAULT_WORKSPACE = "default"
DEFAULT_ORGANIZER = "organizer@example.com"
GONG_QUOTA = Quota()
# The largest value the limit columns hold on every database (a 32-bit integer).
MAX_CALLS = 2**31 - 1


class InvalidInput(ValueError):
    """An admin argument that breaks a rule; the message says which and why."""


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made credential. The secret exists only here: we store its digest."""

    access_key: str
    access_key_secret: str
    workspace: str


def _valid_email(email: str) -> str:
    if not is_email(email):
        raise InvalidInput(f"{email!r} is not a valid email address")
    return normalize_email(email)


def _check_quota(quota: Quota) -> None:
    for label, value in (("per second", quota.per_second), ("per day", quota.per_day)):
        if not 1 <= value <= MAX_CALLS:
            raise InvalidInput(f"the rate limit {label} must be between 1 and {MAX_CALLS}")


def workspace_named(connection: Connection, name: str) -> Workspace:
    """The workspace called `name`; Missing, with the command that creates it, otherwise."""
    workspace = store.find_workspace(connection, name)
    if workspace is None:
        raise Missing(
            f"no workspace named {name!r}; create it with `gong-meetings workspaces create {name}`"
        )
    return workspace


def _user(connection: Connection, workspace: Workspace, email: str) -> User:
    user = store.find_user(connection, workspace.id, email)
    if user is None:
        raise Missing(f"no user {email} in workspace {workspace.name!r}")
    return user


def _make_key(connection: Connection, workspace: Workspace) -> NewKey:
    key, secret = new_access_key(), new_access_key_secret()
    store.insert_key(connection, workspace.id, key, secret_digest(secret))
    return NewKey(key, secret, workspace.name)


class AccountService:
    def __init__(self, database: Database) -> None:
        self._database = database

    def create_workspace(
        self, name: str, auto_provision_users: bool = False, quota: Quota = GONG_QUOTA
    ) -> Workspace:
        name = name.strip()
        if not 0 < len(name) <= WORKSPACE_NAME_MAX or not name.isprintable():
            raise InvalidInput(
                f"a workspace name must be 1 to {WORKSPACE_NAME_MAX} printable characters"
            )
        _check_quota(quota)
        return self._database.transaction(
            lambda c: store.create_workspace(c, name, auto_provision_users, quota)
        )

    def update_workspace(
        self,
        name: str,
        *,
        auto_provision_users: bool | None = None,
        calls_per_second: int | None = None,
        calls_per_day: int | None = None,
    ) -> Workspace:
        """Change the settings given; running servers apply them within the auth cache TTL."""

        def work(connection: Connection) -> Workspace:
            found = workspace_named(connection, name)
            quota = Quota(
                found.quota.per_second if calls_per_second is None else calls_per_second,
                found.quota.per_day if calls_per_day is None else calls_per_day,
            )
            _check_quota(quota)
            auto = (
                found.auto_provision_users if auto_provision_users is None else auto_provision_users
            )
            store.update_workspace(connection, found.id, auto, quota)
            return replace(found, auto_provision_users=auto, quota=quota)

        return self._database.transaction(work)

    def list_workspaces(self) -> list[Workspace]:
        return self._database.transaction(store.list_workspaces)

    def bootstrap(self) -> NewKey | None:
        """On an empty database: workspace `default`, one organizer and one key to start with."""

        def work(connection: Connection) -> NewKey | None:
            if store.count_workspaces(connection) > 0:
                return None
            try:
                workspace = store.create_workspace(connection, DEFAULT_WORKSPACE, False, GONG_QUOTA)
            except Conflict:  # another instance, starting at the same moment, made it
                return None
            store.add_user(connection, workspace.id, DEFAULT_ORGANIZER, "Default Organizer")
            return _make_key(connection, workspace)

        return self._database.transaction(work)

    def create_key(self, workspace: str) -> NewKey:
        return self._database.transaction(lambda c: _make_key(c, workspace_named(c, workspace)))

    def list_keys(self, workspace: str) -> list[ApiKey]:
        return self._database.transaction(
            lambda c: store.list_keys(c, workspace_named(c, workspace).id)
        )

    def revoke_key(self, access_key: str) -> None:
        if not self._database.transaction(lambda c: store.revoke_key(c, access_key)):
            raise Missing(f"no active key {access_key!r}")

    def add_user(self, workspace: str, email: str, name: str | None) -> User:
        normalized = _valid_email(email)
        return self._database.transaction(
            lambda c: store.add_user(c, workspace_named(c, workspace).id, normalized, name)
        )

    def list_users(self, workspace: str) -> list[User]:
        return self._database.transaction(
            lambda c: store.list_users(c, workspace_named(c, workspace).id)
        )

    def remove_user(self, workspace: str, email: str) -> None:
        normalized = normalize_email(email)

        def work(connection: Connection) -> None:
            found = workspace_named(connection, workspace)
            if not store.remove_user(connection, found.id, normalized):
                raise Missing(f"no user {normalized} in workspace {found.name!r}")

        self._database.transaction(work)

    def set_integration(
        self, workspace: str, email: str, provider: str, status: str, details: str | None
    ) -> Integration:
        canonical = canonical_provider(provider)
        if canonical is None:
            raise InvalidInput(
                f"unknown provider {provider!r}; supported: {', '.join(SUPPORTED_PROVIDERS)}"
            )
        matched = [s for s in INTEGRATION_STATUSES if s.lower() == status.strip().lower()]
        if not matched:
            raise InvalidInput(
                f"unknown status {status!r}; use one of {', '.join(INTEGRATION_STATUSES)}"
            )
        normalized = normalize_email(email)

        def work(connection: Connection) -> Integration:
            user = _user(connection, workspace_named(connection, workspace), normalized)
            store.set_integration(connection, user.id, canonical, matched[0], details)
            return store.list_integrations(
                connection, user.workspace_id, email=normalized, provider=canonical
            )[0]

        return self._database.transaction(work)

    def list_integrations(self, workspace: str) -> list[Integration]:
        return self._database.transaction(
            lambda c: store.list_integrations(c, workspace_named(c, workspace).id)
        )
