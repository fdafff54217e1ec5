"""Checking Basic credentials: constant-time, against stored digests, with a short cache."""

import hmac
import time

from gong_meetings.errors import Unauthorized
from gong_meetings.ids import secret_digest
from gong_meetings.records import ApiKey, Caller
from gong_meetings.storage import accounts as store
from gong_meetings.storage.database import Database

# Every failure says exactly this, so a caller cannot tell which part was wrong.
AUTH_FAILED = (
    "Unauthorized: missing or invalid credentials; send HTTP Basic accessKey:accessKeySecret"
)
_MAX_CACHED_KEYS = 10_000
# Compared against when the key is unknown, so that case takes as long as a wrong secret.
_NO_SUCH_DIGEST = secret_digest("no such key")


class Authenticator:
    def __init__(self, database: Database, cache_seconds: float, challenge: str) -> None:
        self._database = database
        self._cache_seconds = cache_seconds
        self._challenge = {"WWW-Authenticate": challenge}
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    def failure(self) -> Unauthorized:
        return Unauthorized(AUTH_FAILED, headers=self._challenge)

    async def _find_key(self, access_key: str) -> ApiKey | None:
        # Keys are cached only briefly: a key revoked by another process (the CLI) must stop
        # working within seconds, and an unknown key is never cached.
        now = time.monotonic()
        cached = self._cache.get(access_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        key = await self._database.run(lambda connection: store.find_key(connection, access_key))
        if key is not None and self._cache_seconds > 0:
            if len(self._cache) >= _MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[access_key] = (now + self._cache_seconds, key)
        return key

    async def verify(self, access_key: str, secret: str) -> Caller:
        """The caller these credentials belong to; Unauthorized for anything else."""
        key = await self._find_key(access_key)
        expected = _NO_SUCH_DIGEST if key is None else key.secret_digest
        matches = hmac.compare_digest(secret_digest(secret), expected)
        if key is None or not matches or key.revoked_at is not None:
            raise self.failure()
        return Caller(key.workspace_id, key.workspace_name)
