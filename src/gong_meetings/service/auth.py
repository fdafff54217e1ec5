"""Checking credentials: Basic keys and bearer tokens, constant-time, with a short cache."""

import hmac
import time
from datetime import timedelta
from typing import Generic, TypeVar

from gong_meetings.errors import Forbidden, Unauthorized
from gong_meetings.ids import secret_digest
from gong_meetings.records import ApiKey, Caller, Token
from gong_meetings.storage import accounts as key_store
from gong_meetings.storage import tokens as token_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.timestamps import now

# Every failure says exactly this, so a caller cannot tell which part was wrong.
AUTH_FAILED = (
    "Unauthorized: missing or invalid credentials; send HTTP Basic"
    " accessKey:accessKeySecret or a bearer token"
)
REALM = 'realm="gong-meetings"'
CHALLENGE = f'Basic {REALM}, charset="UTF-8", Bearer {REALM}'
INVALID_TOKEN_CHALLENGE = f'Bearer {REALM}, error="invalid_token"'
_MAX_CACHED = 10_000
# Compared against when the key is unknown, so that case takes as long as a wrong secret.
_NO_SUCH_DIGEST = secret_digest("no such key")

K = TypeVar("K")
V = TypeVar("V")


class _ShortCache(Generic[K, V]):
    """Found records, trusted for a few seconds: a revocation made by another process (the
    CLI, another instance) must take effect within that, so nothing is kept longer."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key: K, value: V) -> None:
        if self._seconds <= 0:
            return
        if len(self._entries) >= _MAX_CACHED:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._seconds, value)


def require_scope(caller: Caller, scope: str) -> None:
    """403 when a bearer token lacks `scope`; Basic credentials may do everything, as in Gong."""
    if caller.scopes is not None and scope not in caller.scopes:
        raise Forbidden(
            f"Forbidden: this token lacks the scope {scope}",
            headers={
                "WWW-Authenticate": f'Bearer {REALM}, error="insufficient_scope", scope="{scope}"'
            },
        )


class Authenticator:
    def __init__(self, database: Database, cache_seconds: float) -> None:
        self._database = database
        self._cache_seconds = timedelta(seconds=cache_seconds)
        self._keys: _ShortCache[str, ApiKey] = _ShortCache(cache_seconds)
        self._tokens: _ShortCache[bytes, Token] = _ShortCache(cache_seconds)
        # Credentials that passed (Basic, or a bearer token), by the header that carried them: a
        # repeat call costs a lookup instead of decoding and hashing. Remembered only with a key
        # or token just read from the database and for as long as it, so a revocation still
        # takes effect within the bound.
        self._verified: _ShortCache[str, Caller] = _ShortCache(cache_seconds)

    @staticmethod
    def failure(challenge: str = CHALLENGE) -> Unauthorized:
        return Unauthorized(AUTH_FAILED, headers={"WWW-Authenticate": challenge})

    def verified(self, header: str) -> Caller | None:
        """The caller of credentials that `verify` or `verify_token` passed moments ago in
        this header."""
        return self._verified.get(header)

    async def verify(self, access_key: str, secret: str, header: str | None = None) -> Caller:
        """The caller these Basic credentials belong to; Unauthorized for anything else.
        Given the `header` they came in, a later `verified(header)` finds the caller."""
        key = self._keys.get(access_key)
        fresh = key is None
        if key is None:
            key = await self._database.read(lambda c: key_store.find_key(c, access_key))
            if key is not None:
                self._keys.put(access_key, key)
        expected = _NO_SUCH_DIGEST if key is None else key.secret_digest
        matches = hmac.compare_digest(secret_digest(secret), expected)
        if key is None or not matches or key.revoked_at is not None:
            raise self.failure()
        caller = Caller(key.workspace_id, key.workspace_name, quota=key.quota)
        if fresh and header is not None:
            self._verified.put(header, caller)
        return caller

    async def verify_token(self, token: str, header: str | None = None) -> Caller:
        """The caller a bearer token stands for, with its scopes; 401 invalid_token otherwise.
        Given the `header` it came in, a later `verified(header)` finds the caller."""
        # Looked up by its digest, an exact match on a 256-bit value: nothing to compare in
        # constant time, and the token itself is never stored.
        digest = secret_digest(token)
        found = self._tokens.get(digest)
        fresh = found is None
        if found is None:
            found = await self._database.read(lambda c: token_store.find_token(c, digest))
            if found is not None:
                self._tokens.put(digest, found)
        at = now()
        if found is None or found.revoked_at is not None or found.expires_at <= at:
            raise self.failure(INVALID_TOKEN_CHALLENGE)
        caller = Caller(found.workspace_id, found.workspace_name, found.scopes, found.quota)
        # Not a token that expires while remembered: `verified` does not look at expiry.
        if fresh and header is not None and found.expires_at > at + self._cache_seconds:
            self._verified.put(header, caller)
        return caller
