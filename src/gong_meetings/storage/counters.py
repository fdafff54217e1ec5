"""Where rate-limit counters live: the `limits` library's storage, in memory or in Redis."""

from limits.aio.storage import MemoryStorage, RedisStorage, Storage

# Redis trouble must cost a request little: these bound each connect and each command.
REDIS_TIMEOUT_SECONDS = 0.5


def counter_storage(redis_url: str | None) -> Storage:
    """Counters in this process's memory, or in Redis shared by every process that uses it."""
    if redis_url is None:
        return MemoryStorage()
    # The `async+` prefix selects limits' asyncio storage; redis-py's client serves it.
    return RedisStorage(
        f"async+{redis_url}",
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix="gong-meetings",
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
