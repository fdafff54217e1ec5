"""Plain records that storage returns and services reason about (the meeting is `wire.Meeting`)."""

from dataclasses import dataclass
from datetime import datetime

import msgspec

from gong_meetings.wire import Meeting

# Gong's own limits, and so every new workspace's.
DEFAULT_CALLS_PER_SECOND = 3
DEFAULT_CALLS_PER_DAY = 10_000


@dataclass(frozen=True, slots=True)
class Quota:
    """How many API calls a workspace may make per second and per day."""

    per_second: int = DEFAULT_CALLS_PER_SECOND
    per_day: int = DEFAULT_CALLS_PER_DAY


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    name: str
    auto_provision_users: bool
    created_at: datetime
    quota: Quota = Quota()


@dataclass(frozen=True, slots=True)
class ApiKey:
    access_key: str
    workspace_id: int
    workspace_name: str
    secret_digest: bytes
    created_at: datetime
    revoked_at: datetime | None
    quota: Quota = Quota()


@dataclass(frozen=True, slots=True)
class User:
    id: int
    workspace_id: int
    email: str
    name: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Integration:
    user_email: str
    provider: str
    status: str
    details: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: every read and write is scoped to this workspace."""

    workspace_id: int
    workspace_name: str
    # What a bearer token may do; None for Basic credentials, which may do everything.
    scopes: frozenset[str] | None = None
    quota: Quota = Quota()


@dataclass(frozen=True, slots=True)
class Token:
    token_id: str
    workspace_id: int
    workspace_name: str
    access_key: str | None
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    quota: Quota = Quota()


@dataclass(frozen=True, slots=True)
class StoredMeeting:
    """A meeting with its version, which counts its changes and makes its ETag."""

    meeting: Meeting
    version: int


@dataclass(frozen=True, slots=True)
class ShownStoredMeeting:
    """The same, read only to be shown: its JSON as a response shows it (storage/meetings.py)."""

    meeting: msgspec.Raw
    version: int
