"""The `gong-meetings` command: serve, migrate, and the admin commands.

Every command reads GONG_MEETINGS_DATABASE_URL. Errors are one line on stderr and a non-zero
exit, never a traceback.
"""

import contextlib
import json
import math
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from gong_meetings.cli_client import integration_status, meetings
from gong_meetings.client.errors import GongMeetingsError
from gong_meetings.config import DEFAULT_DATABASE_URL, Settings, SettingsError
from gong_meetings.errors import Conflict, Missing, SchemaNotCurrent
from gong_meetings.logs import log_config
from gong_meetings.metrics import MULTIPROCESS_DIR_VARIABLE
from gong_meetings.records import DEFAULT_CALLS_PER_DAY, DEFAULT_CALLS_PER_SECOND, Quota, Workspace
from gong_meetings.service.accounts import (
    INTEGRATION_STATUSES,
    AccountService,
    InvalidInput,
    NewKey,
)
from gong_meetings.service.tokens import TokenService, parse_scopes
from gong_meetings.storage.database import Database, DatabaseUrlError
from gong_meetings.storage.migrate import ensure_current, upgrade

EXAMPLE_MEETING = (
    '{"title": "Kickoff", "scheduledStart": "2030-01-15T10:00:00Z",'
    ' "scheduledEnd": "2030-01-15T10:30:00Z", "organizerEmail": "organizer@example.com"}'
)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _database(settings: Settings, *, migrate: bool = True) -> Database:
    """Open the configured database; SQLite is upgraded to the current schema on the way."""
    database = Database(settings.database_url, settings.pool)
    if migrate:
        ensure_current(database.engine, auto_upgrade=database.is_sqlite)
    return database


def _accounts() -> AccountService:
    return AccountService(_database(Settings.from_env()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gong-meetings")
def cli() -> None:
    """gong-meetings: a self-hostable Gong Meetings API v2 server and its admin tools."""


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port (use PostgreSQL to share the data well).",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the API server."""
    import uvicorn

    settings = Settings.from_env(host=host, port=port)
    if workers > 1 and settings.redis_url is None:
        _fail(
            f"--workers {workers} needs GONG_MEETINGS_REDIS_URL: each worker is its own process,"
            " and without Redis each would keep its own rate-limit counts, allowing"
            f" {workers} times the limits; set GONG_MEETINGS_REDIS_URL=redis://HOST:6379"
        )
    new_key = AccountService(_database(settings)).bootstrap()
    if new_key is not None:
        _print_welcome(new_key, settings.base_url)
    # Each worker builds its app from the environment, so it must see the options given here.
    os.environ["GONG_MEETINGS_HOST"] = settings.host
    os.environ["GONG_MEETINGS_PORT"] = str(settings.port)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler
    # it found there, so the default one would end the process as "killed by SIGTERM". A stop
    # on request that went well exits 0 instead.
    signal.signal(signal.SIGTERM, lambda _signal, _frame: None)
    with _metrics_shared_by(workers):
        uvicorn.run(
            "gong_meetings.server.app:serve_app",
            factory=True,
            workers=workers,
            **server_options(settings),
        )


def server_options(settings: Settings) -> dict[str, Any]:
    """How `serve` runs uvicorn (bench/ceiling.py serves its app the same way)."""
    from gong_meetings.server.protocol import GuardedHttpToolsProtocol

    return {
        "host": settings.host,
        "port": settings.port,
        "http": GuardedHttpToolsProtocol,
        "access_log": False,  # our middleware logs each request with its request id
        # X-Forwarded-For is trusted only from GONG_MEETINGS_TRUSTED_PROXIES (see the app).
        "proxy_headers": False,
        "log_config": log_config(settings.log_format),
        # On SIGTERM uvicorn stops accepting, lets requests in flight finish for this long,
        # then runs the app's shutdown, which closes the database pools.
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_grace_seconds),
    }


@contextlib.contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """Several workers write their metrics to files in one directory, for any of them to sum
    (see gong_meetings.metrics); it is made empty for this run and removed after it."""
    if workers == 1:
        yield
        return
    given = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    with tempfile.TemporaryDirectory(prefix="gong-meetings-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR_VARIABLE]


def _print_welcome(key: NewKey, base_url: str) -> None:
    credentials = shlex.quote(f"{key.access_key}:{key.access_key_secret}")
    click.echo(
        "Created workspace 'default' with user organizer@example.com and one API key.\n"
        "The secret is shown only now; store it.\n"
        f"  accessKey:       {key.access_key}\n"
        f"  accessKeySecret: {key.access_key_secret}\n"
        "Create a meeting:\n"
        f"  curl -sS -u {credentials} -H 'Content-Type: application/json' \\\n"
        f"    -d {shlex.quote(EXAMPLE_MEETING)} {base_url}/v2/meetings\n",
        nl=True,
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    database = _database(Settings.from_env(), migrate=False)
    before, after = upgrade(database.engine)
    if before == after:
        click.echo(f"schema already at revision {after}")
    else:
        click.echo(f"schema upgraded from {before or 'empty'} to revision {after}")


@cli.group()
def workspaces() -> None:
    """Create, change and list workspaces."""


def _describe(workspace: Workspace) -> str:
    """Name, creation time, limits and options, tab-separated."""
    quota = workspace.quota
    auto = "\tauto-provision-users" if workspace.auto_provision_users else ""
    return (
        f"{workspace.name}\t{workspace.created_at.isoformat()}"
        f"\t{quota.per_second}/second\t{quota.per_day}/day{auto}"
    )


per_second_option = click.option(
    "--rate-limit-per-second",
    "per_second",
    type=int,
    default=None,
    help=f"API calls allowed per second (default {DEFAULT_CALLS_PER_SECOND}, as Gong).",
)
per_day_option = click.option(
    "--rate-limit-per-day",
    "per_day",
    type=int,
    default=None,
    help=f"API calls allowed per UTC day (default {DEFAULT_CALLS_PER_DAY}, as Gong).",
)


@workspaces.command("create")
@click.argument("name")
@click.option("--auto-provision-users", is_flag=True, help="Register unknown organizers.")
@per_second_option
@per_day_option
def workspaces_create(
    name: str, auto_provision_users: bool, per_second: int | None, per_day: int | None
) -> None:
    """Create workspace NAME."""
    quota = Quota(
        DEFAULT_CALLS_PER_SECOND if per_second is None else per_second,
        DEFAULT_CALLS_PER_DAY if per_day is None else per_day,
    )
    workspace = _accounts().create_workspace(name, auto_provision_users, quota)
    click.echo(f"created workspace {workspace.name}")


@workspaces.command("update")
@click.argument("name")
@click.option(
    "--auto-provision-users/--no-auto-provision-users",
    default=None,
    help="Register unknown organizers, or stop doing so.",
)
@per_second_option
@per_day_option
def workspaces_update(
    name: str, auto_provision_users: bool | None, per_second: int | None, per_day: int | None
) -> None:
    """Change workspace NAME; running servers apply the change within seconds."""
    if auto_provision_users is None and per_second is None and per_day is None:
        _fail(
            "nothing to change; give --rate-limit-per-second, --rate-limit-per-day"
            " or --[no-]auto-provision-users"
        )
    workspace = _accounts().update_workspace(
        name,
        auto_provision_users=auto_provision_users,
        calls_per_second=per_second,
        calls_per_day=per_day,
    )
    click.echo(f"updated workspace {_describe(workspace)}")


@workspaces.command("list")
def workspaces_list() -> None:
    """List workspaces: name, created, calls per second and per day, options."""
    for workspace in _accounts().list_workspaces():
        click.echo(_describe(workspace))


workspace_option = click.option("--workspace", required=True, help="Workspace name.")


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print {accessKey, accessKeySecret}.")
def keys_create(workspace: str, as_json: bool) -> None:
    """Create a key; its secret is shown only this once."""
    key = _accounts().create_key(workspace)
    if as_json:
        click.echo(
            json.dumps({"accessKey": key.access_key, "accessKeySecret": key.access_key_secret})
        )
    else:
        click.echo(f"accessKey:       {key.access_key}\naccessKeySecret: {key.access_key_secret}")


@keys.command("list")
@workspace_option
def keys_list(workspace: str) -> None:
    """List a workspace's keys (never their secrets)."""
    for key in _accounts().list_keys(workspace):
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        click.echo(f"{key.access_key}\t{key.created_at.isoformat()}\t{state}")


@keys.command("revoke")
@click.argument("access_key")
def keys_revoke(access_key: str) -> None:
    """Revoke ACCESS_KEY; running servers stop accepting it within seconds."""
    _accounts().revoke_key(access_key)
    click.echo(f"revoked {access_key}")


@cli.group()
def users() -> None:
    """Add, list and remove a workspace's users."""


@users.command("add")
@click.argument("email")
@workspace_option
@click.option("--name", default=None, help="Display name.")
def users_add(email: str, workspace: str, name: str | None) -> None:
    """Add user EMAIL."""
    user = _accounts().add_user(workspace, email, name)
    click.echo(f"added {user.email}")


@users.command("list")
@workspace_option
def users_list(workspace: str) -> None:
    """List users."""
    for user in _accounts().list_users(workspace):
        click.echo(f"{user.email}\t{user.name or ''}".rstrip())


@users.command("remove")
@click.argument("email")
@workspace_option
def users_remove(email: str, workspace: str) -> None:
    """Remove user EMAIL and their integrations."""
    _accounts().remove_user(workspace, email)
    click.echo(f"removed {email}")


@cli.group()
def integrations() -> None:
    """Set and list users' meeting-provider integrations."""


@integrations.command("set")
@click.argument("email")
@click.argument("provider")
@click.argument("status", metavar=f"STATUS ({'|'.join(INTEGRATION_STATUSES)})")
@workspace_option
@click.option("--details", default=None, help="Text returned as `details`.")
def integrations_set(
    email: str, provider: str, status: str, workspace: str, details: str | None
) -> None:
    """Set EMAIL's integration with PROVIDER to STATUS."""
    found = _accounts().set_integration(workspace, email, provider, status, details)
    click.echo(f"{found.user_email} {found.provider} {found.status}")


@integrations.command("list")
@workspace_option
def integrations_list(workspace: str) -> None:
    """List integrations."""
    for found in _accounts().list_integrations(workspace):
        click.echo(
            f"{found.user_email}\t{found.provider}\t{found.status}\t{found.details or ''}".rstrip()
        )


@cli.group()
def tokens() -> None:
    """Issue, list and revoke OAuth 2.0 bearer tokens."""


def _tokens() -> TokenService:
    settings = Settings.from_env()
    return TokenService(_database(settings), settings.token_ttl_seconds)


@tokens.command("issue")
@workspace_option
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope to grant (repeatable, or space-separated); all four when none is given.",
)
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds (default 86400).")
@click.option("--json", "as_json", is_flag=True, help="Print {accessToken, expiresIn, scope}.")
def tokens_issue(workspace: str, scopes: tuple[str, ...], ttl: int | None, as_json: bool) -> None:
    """Issue a token; it is shown only this once."""
    issued = _tokens().issue(workspace, parse_scopes(list(scopes)), ttl)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "accessToken": issued.access_token,
                    "expiresIn": issued.expires_in,
                    "scope": issued.scope,
                }
            )
        )
    else:
        click.echo(
            f"accessToken: {issued.access_token}\ntokenId:     {issued.token_id}\n"
            f"expiresIn:   {issued.expires_in}\nscope:       {issued.scope}"
        )


@tokens.command("list")
@workspace_option
def tokens_list(workspace: str) -> None:
    """List a workspace's tokens (never the tokens themselves)."""
    for token in _tokens().list(workspace):
        if token.revoked_at:
            state = f"revoked {token.revoked_at.isoformat()}"
        else:
            state = "expired" if token.expires_at <= datetime.now(UTC) else "active"
        click.echo(
            f"{token.token_id}\t{token.expires_at.isoformat()}\t{state}"
            f"\t{' '.join(sorted(token.scopes))}"
        )


@tokens.command("revoke")
@click.argument("token")
def tokens_revoke(token: str) -> None:
    """Revoke TOKEN (its id from `tokens list`, or the token itself)."""
    _tokens().revoke(token)
    click.echo("revoked")


cli.add_command(meetings)
cli.add_command(integration_status)

_EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    GongMeetingsError,  # the server's answer to a `meetings` or `integration-status` command
    Conflict,
    Missing,
    InvalidInput,
    SchemaNotCurrent,
    SettingsError,
    DatabaseUrlError,
)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: click's usage errors and our own become one line and a non-zero exit."""
    run: Callable[..., Any] = cli.main
    try:
        run(args=argv, prog_name="gong-meetings", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.exceptions.NoArgsIsHelpError as error:
        # click's message here is the whole help text; one line says the same.
        command = error.ctx.command_path if error.ctx else "gong-meetings"
        _fail(f"missing command; see `{command} --help`", 2)
    except click.exceptions.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except _EXPECTED_ERRORS as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"{error.strerror or error}")
    except SQLAlchemyError as error:  # database unreachable and the like: still one line
        cause = error.orig if isinstance(error, DBAPIError) else error
        url = _shown_database_url()
        _fail(f"cannot use the database {url}: {str(cause).strip().splitlines()[0]}")


def _shown_database_url() -> str:
    """The configured URL with any password hidden, for error messages."""
    raw = os.environ.get("GONG_MEETINGS_DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return raw
