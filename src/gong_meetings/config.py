"""Settings from the environment (prefix GONG_MEETINGS_), built once by `Settings.from_env`."""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "sqlite:///gong-meetings.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Cached credentials expire this fast, so a key revoked by another process stops working soon.
DEFAULT_AUTH_CACHE_SECONDS = 2.0
# Failed authentications allowed per client address per minute, before it must wait.
DEFAULT_FAILURES_PER_MINUTE = 20
REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
LOG_FORMATS = ("auto", "json", "text")
DEFAULT_REDIS_PORT = 6379


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """PostgreSQL connection settings; SQLite has one connection per process and ignores them."""

    size: int = 10
    max_overflow: int = 10
    timeout_seconds: float = 5.0
    connect_timeout_seconds: int = 5
    statement_timeout_ms: int = 5_000


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_base_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    auth_cache_seconds: float = DEFAULT_AUTH_CACHE_SECONDS
    pool: PoolOptions = PoolOptions()
    token_ttl_seconds: int = 86_400
    # Rate-limit counters: in this process's memory when None, else shared in Redis.
    redis_url: str | None = None
    auth_failures_per_minute: int = DEFAULT_FAILURES_PER_MINUTE
    # Peers whose X-Forwarded-For names the real client; nobody's by default.
    trusted_proxies: tuple[str, ...] = ()
    # GET /metrics needs `Authorization: Bearer <this>` when set; it is open otherwise.
    metrics_token: str | None = None
    # "auto" is text on a terminal and JSON otherwise.
    log_format: str = "auto"
    # How long requests in flight may take to finish once SIGTERM arrives.
    shutdown_grace_seconds: float = 10.0
    # Cut-offs for slow or oversized requests (see server/protocol.py and server/body.py).
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 20.0
    max_header_bytes: int = 16 * 1024

    @property
    def base_url(self) -> str:
        """Where clients reach this server; generated meeting URLs start with it."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "database_url": env.get("GONG_MEETINGS_DATABASE_URL", DEFAULT_DATABASE_URL),
            "host": env.get("GONG_MEETINGS_HOST", DEFAULT_HOST),
            "port": _int(env, "GONG_MEETINGS_PORT", DEFAULT_PORT, 0, 65535),
            "public_base_url": env.get("GONG_MEETINGS_PUBLIC_BASE_URL") or None,
            "max_body_bytes": _int(env, "GONG_MEETINGS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1),
            "auth_cache_seconds": _float(
                env, "GONG_MEETINGS_AUTH_CACHE_SECONDS", DEFAULT_AUTH_CACHE_SECONDS
            ),
        }
        values["token_ttl_seconds"] = _int(
            env, "GONG_MEETINGS_TOKEN_TTL_SECONDS", 86_400, 1, 366 * 86_400
        )
        values["redis_url"] = _redis_url(env)
        values["auth_failures_per_minute"] = _int(
            env, "GONG_MEETINGS_AUTH_FAILURES_PER_MINUTE", DEFAULT_FAILURES_PER_MINUTE, 1
        )
        values["trusted_proxies"] = _trusted_proxies(env)
        values["metrics_token"] = env.get("GONG_MEETINGS_METRICS_TOKEN") or None
        values["log_format"] = _choice(env, "GONG_MEETINGS_LOG_FORMAT", LOG_FORMATS)
        for name, default, low in (
            ("shutdown_grace_seconds", 10.0, 0.0),
            ("header_timeout_seconds", 10.0, 0.1),
            ("body_timeout_seconds", 20.0, 0.1),
        ):
            values[name] = _float(env, f"GONG_MEETINGS_{name.upper()}", default, low)
        values["max_header_bytes"] = _int(
            env, "GONG_MEETINGS_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024
        )
        values["pool"] = PoolOptions(
            size=_int(env, "GONG_MEETINGS_DB_POOL_SIZE", 10, 1, 1000),
            max_overflow=_int(env, "GONG_MEETINGS_DB_MAX_OVERFLOW", 10, 0, 1000),
            timeout_seconds=_float(env, "GONG_MEETINGS_DB_POOL_TIMEOUT", 5.0),
            connect_timeout_seconds=_int(env, "GONG_MEETINGS_DB_CONNECT_TIMEOUT", 5, 1, 60),
            statement_timeout_ms=_int(
                env, "GONG_MEETINGS_DB_STATEMENT_TIMEOUT_MS", 5_000, 1, 600_000
            ),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int = 2**62) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= 60:
        raise SettingsError(f"{name} must be between {low:g} and 60 seconds, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = env.get("GONG_MEETINGS_REDIS_URL", "").strip()
    if not url:
        return None
    if not url.startswith(REDIS_SCHEMES):
        raise SettingsError(
            f"GONG_MEETINGS_REDIS_URL must start with {', '.join(REDIS_SCHEMES)}, got {url!r}"
        )
    if url.startswith("redis+unix://"):
        return url
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1:
        raise SettingsError(
            f"GONG_MEETINGS_REDIS_URL must name a host and optionally a port, such as"
            f" redis://127.0.0.1:6379/0; got {url!r}"
        )
    if port is None:  # the limits library insists on a port; Redis's own is the default
        parts = parts._replace(netloc=f"{parts.netloc}:{DEFAULT_REDIS_PORT}")
    return urlunsplit(parts)


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """Addresses or networks, comma-separated, such as `10.0.0.5, 192.168.0.0/16`."""
    raw = env.get("GONG_MEETINGS_TRUSTED_PROXIES", "")
    networks = []
    for proxy in (item.strip() for item in raw.split(",") if item.strip()):
        try:
            # Networks normalised (10.0.0.5/8 becomes 10.0.0.0/8): uvicorn reads them strictly.
            if "/" in proxy:
                networks.append(str(ipaddress.ip_network(proxy, strict=False)))
            else:
                networks.append(str(ipaddress.ip_address(proxy)))
        except ValueError:
            raise SettingsError(
                "GONG_MEETINGS_TRUSTED_PROXIES must list IP addresses or networks"
                f" (such as 10.0.0.0/8), got {proxy!r}"
            ) from None
    return tuple(networks)
