"""OAuth 2.0 bearer tokens with Gong's scopes: issued, listed and revoked."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection

from gong_meetings.errors import Missing
from gong_meetings.ids import secret_digest
from gong_meetings.records import Caller, Token
from gong_meetings.service.accounts import InvalidInput, workspace_named
from gong_meetings.storage import tokens as store
from gong_meetings.storage.database import Database
from gong_meetings.storage.timestamps import now

SCOPE_CREATE = "api:meetings:user:create"
SCOPE_UPDATE = "api:meetings:user:update"
SCOPE_DELETE = "api:meetings:user:delete"
SCOPE_STATUS = "api:meetings:integration:status"
# An addition: Gong's API has no meeting reads, so no scope for them.
SCOPE_READ = "api:meetings:user:read"
ALL_SCOPES = frozenset({SCOPE_CREATE, SCOPE_UPDATE, SCOPE_DELETE, SCOPE_STATUS, SCOPE_READ})
DEFAULT_TOKEN_TTL_SECONDS = 86_400  # a day, as Gong's
MAX_TOKEN_TTL_SECONDS = 366 * 86_400
TOKEN_PREFIX = "gmt_"  # noqa: S105 - a prefix that marks our tokens, not a secret


class InvalidScope(InvalidInput):
    """A scope this server does not know."""


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly issued token. The token exists only here: we store its digest."""

    access_token: str
    token_id: str
    expires_in: int
    scopes: frozenset[str]

    @property
    def scope(self) -> str:
        return " ".join(sorted(self.scopes))


def parse_scopes(requested: list[str] | None) -> frozenset[str]:
    """The scopes asked for (each item may hold several, space-separated); all when none."""
    names = {name for item in requested or [] for name in item.split()}
    unknown = sorted(names - ALL_SCOPES)
    if unknown:
        raise InvalidScope(
            f"unknown scope {', '.join(unknown)}; known scopes: {' '.join(sorted(ALL_SCOPES))}"
        )
    return frozenset(names) or ALL_SCOPES


def issue_token(
    connection: Connection,
    caller: Caller,
    access_key: str | None,
    scopes: frozenset[str],
    ttl_seconds: int,
) -> NewToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(8)
    expires_at = now() + timedelta(seconds=ttl_seconds)
    store.insert_token(
        connection,
        token_id,
        secret_digest(token),
        caller.workspace_id,
        access_key,
        scopes,
        expires_at,
    )
    return NewToken(token, token_id, ttl_seconds, scopes)


def valid_ttl(ttl_seconds: int) -> int:
    if not 1 <= ttl_seconds <= MAX_TOKEN_TTL_SECONDS:
        raise InvalidInput(f"a token lifetime must be 1 to {MAX_TOKEN_TTL_SECONDS} seconds")
    return ttl_seconds


class TokenService:
    def __init__(self, database: Database, default_ttl_seconds: int) -> None:
        self._database = database
        self._default_ttl = default_ttl_seconds

    async def issue_for_client(
        self, caller: Caller, access_key: str, scopes: frozenset[str]
    ) -> NewToken:
        """The token endpoint's grant: a token for a client that authenticated with its key."""
        return await self._database.run(
            lambda c: issue_token(c, caller, access_key, scopes, self._default_ttl)
        )

    def issue(self, workspace: str, scopes: frozenset[str], ttl_seconds: int | None) -> NewToken:
        """A token issued by an administrator (the CLI), tied to no key."""
        ttl = valid_ttl(self._default_ttl if ttl_seconds is None else ttl_seconds)

        def work(connection: Connection) -> NewToken:
            found = workspace_named(connection, workspace)
            return issue_token(connection, Caller(found.id, found.name), None, scopes, ttl)

        return self._database.transaction(work)

    def list(self, workspace: str) -> list[Token]:
        return self._database.transaction(
            lambda c: store.list_tokens(c, workspace_named(c, workspace).id)
        )

    def revoke(self, token_or_id: str) -> None:
        """Revoke one token, named by its id (`tok_...`) or by the token itself."""

        def work(connection: Connection) -> bool:
            token_id = token_or_id
            if token_or_id.startswith(TOKEN_PREFIX):
                found = store.find_token(connection, secret_digest(token_or_id))
                token_id = "" if found is None else found.token_id
            return store.revoke_token(connection, token_id)

        if not self._database.transaction(work):
            shown = token_or_id if token_or_id.startswith("tok_") else "that token"
            raise Missing(f"no active token {shown}")
