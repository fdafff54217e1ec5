"""Settings for rate limiting: GONG_MEETINGS_REDIS_URL, _AUTH_FAILURES_PER_MINUTE and
_TRUSTED_PROXIES. Each parses, has its default, and a bad value is a SettingsError that names
the variable (the CLI turns it into one `error:` line; see tests/cli/test_workspace_limits.py).
"""

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gong_meetings.config import DEFAULT_FAILURES_PER_MINUTE, Settings, SettingsError
from gong_meetings.server import create_app
from gong_meetings.storage.counters import counter_storage

REDIS = "GONG_MEETINGS_REDIS_URL"
FAILURES = "GONG_MEETINGS_AUTH_FAILURES_PER_MINUTE"
PROXIES = "GONG_MEETINGS_TRUSTED_PROXIES"


def test_defaults_keep_counts_in_memory_allow_twenty_failures_and_trust_no_proxy() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert settings.auth_failures_per_minute == DEFAULT_FAILURES_PER_MINUTE == 20
    assert settings.trusted_proxies == ()
    assert Settings() == settings


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_values_mean_the_defaults(value: str) -> None:
    settings = Settings.from_env({REDIS: value, FAILURES: "", PROXIES: value})
    assert (settings.redis_url, settings.auth_failures_per_minute, settings.trusted_proxies) == (
        None,
        20,
        (),
    )


# --- GONG_MEETINGS_REDIS_URL ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:secret@redis.internal:6380", "redis://:secret@redis.internal:6380"),
        ("rediss://redis.example.com:6380/2", "rediss://redis.example.com:6380/2"),
        ("redis+unix:///run/redis/redis.sock", "redis+unix:///run/redis/redis.sock"),
        ("  redis://localhost:6379  ", "redis://localhost:6379"),
    ],
)
def test_redis_url_accepts_the_redis_schemes(value: str, expected: str) -> None:
    settings = Settings.from_env({REDIS: value})
    assert settings.redis_url == expected
    # And what is accepted is something the counter storage can be built from.
    assert type(counter_storage(settings.redis_url)).__name__ == "RedisCounters"


@pytest.mark.parametrize(
    "value", ["redis://localhost", "redis://:secret@redis.internal/2", "rediss://redis.example.com"]
)
def test_a_redis_url_without_a_port_is_refused_or_usable(value: str) -> None:
    """Redis URLs may leave out the port (6379). Either the setting is refused up front, in
    one line naming the variable, or the counters can be built from it: a URL that passes the
    settings and then fails in every worker, with a traceback, is neither."""
    try:
        settings = Settings.from_env({REDIS: value})
    except SettingsError as error:
        assert REDIS in str(error)
        return
    assert type(counter_storage(settings.redis_url)).__name__ == "RedisCounters"


@pytest.mark.parametrize(
    "value",
    [
        "http://x",
        "localhost:6379",
        "127.0.0.1",
        "unix:///run/redis.sock",
        "redis:/localhost",
        "memcached://localhost:11211",
        "async+redis://localhost",
    ],
)
def test_redis_url_refuses_other_schemes_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({REDIS: value})
    message = str(raised.value)
    assert REDIS in message
    assert repr(value) in message
    for scheme in ("redis://", "rediss://", "redis+unix://"):
        assert scheme in message


# --- GONG_MEETINGS_AUTH_FAILURES_PER_MINUTE ---------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("5", 5), ("100000", 100000)])
def test_auth_failures_per_minute_parses(value: str, expected: int) -> None:
    assert Settings.from_env({FAILURES: value}).auth_failures_per_minute == expected


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5", "1e3"])
def test_auth_failures_per_minute_must_be_a_positive_integer(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({FAILURES: value})
    assert FAILURES in str(raised.value)
    assert value in str(raised.value)


# --- GONG_MEETINGS_TRUSTED_PROXIES ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5",)),
        ("10.0.0.5, 192.168.0.0/16", ("10.0.0.5", "192.168.0.0/16")),
        ("10.0.0.5,192.168.0.0/16,", ("10.0.0.5", "192.168.0.0/16")),
        (" ::1 , 2001:db8::/32 ", ("::1", "2001:db8::/32")),
        ("0.0.0.0/0", ("0.0.0.0/0",)),
    ],
)
def test_trusted_proxies_parse_addresses_and_networks(
    value: str, expected: tuple[str, ...]
) -> None:
    assert Settings.from_env({PROXIES: value}).trusted_proxies == expected


@pytest.mark.parametrize(
    ("value", "bad_item"),
    [
        ("proxy.internal", "proxy.internal"),
        ("10.0.0.5, proxy.internal", "proxy.internal"),
        ("10.0.0.256", "10.0.0.256"),
        ("10.0.0.0/33", "10.0.0.0/33"),
        ("*", "*"),
        ("10.0.0.1 10.0.0.2", "10.0.0.1 10.0.0.2"),
        ("192.168.0.0/16; 10.0.0.1", "192.168.0.0/16; 10.0.0.1"),
    ],
)
def test_trusted_proxies_refuse_anything_else_naming_the_variable_and_the_item(
    value: str, bad_item: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({PROXIES: value})
    assert PROXIES in str(raised.value)
    assert repr(bad_item) in str(raised.value)


# --- trusted proxies in the app: whose address failed logins are counted against ---------------

PROXY_PEER = ("10.200.0.1", 4321)


async def failed_login_statuses(
    tmp_path: Path, proxies: str, forwarded_for: list[str]
) -> list[int]:
    """The status of a failed login from each forwarded address in turn, all arriving from a
    peer at 10.200.0.1, with one failure allowed per address per minute."""
    settings = Settings.from_env(
        {
            "GONG_MEETINGS_DATABASE_URL": f"sqlite:///{tmp_path}/proxies.db",
            FAILURES: "1",
            PROXIES: proxies,
        }
    )
    app = create_app(settings, clock=lambda: 1_800_000_000.0)  # a fixed moment: one minute
    statuses = []
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=PROXY_PEER)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for address in forwarded_for:
                response = await http.post(
                    "/v2/meetings",
                    json={},
                    auth=("NOSUCHKEY", "wrong"),
                    headers={"X-Forwarded-For": address},
                )
                statuses.append(response.status_code)
    return statuses


async def test_without_trusted_proxies_every_failure_counts_against_the_peer(
    tmp_path: Path,
) -> None:
    statuses = await failed_login_statuses(tmp_path, "", ["203.0.113.1", "203.0.113.2"])
    assert statuses == [401, 429]


@pytest.mark.parametrize("proxies", ["10.200.0.1", "10.0.0.0/8", "192.0.2.1, 10.200.0.0/16"])
async def test_a_trusted_proxy_has_failures_counted_against_the_client_it_names(
    tmp_path: Path, proxies: str
) -> None:
    statuses = await failed_login_statuses(
        tmp_path, proxies, ["203.0.113.1", "203.0.113.1", "203.0.113.2"]
    )
    assert statuses == [401, 429, 401]


async def test_a_network_written_with_host_bits_is_refused_or_trusted_as_the_network(
    tmp_path: Path,
) -> None:
    """`10.0.0.5/8` either is refused, naming the variable and the item, or takes effect as
    10.0.0.0/8; it must not be accepted and then handed on as text no address ever matches."""
    try:
        Settings.from_env({PROXIES: "10.0.0.5/8"})
    except SettingsError as error:
        assert PROXIES in str(error) and "10.0.0.5/8" in str(error)
        return
    statuses = await failed_login_statuses(
        tmp_path, "10.0.0.5/8", ["203.0.113.1", "203.0.113.1", "203.0.113.2"]
    )
    assert statuses == [401, 429, 401]
