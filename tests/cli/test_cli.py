"""The admin CLI, driven in-process through `gong_meetings.cli.main` and once as the real script.

Every exact command form from the issue is exercised, and every bad argument must give exactly
one `error:` line on stderr, a non-zero exit and no traceback.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gong_meetings.errors import Unauthorized
from gong_meetings.service.accounts import AccountService
from gong_meetings.service.auth import Authenticator
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import current_revision, head_revision
from tests.helpers import CliResult, assert_one_line_error, isolated_cli_database, run_cli

SCRIPT = Path(sys.executable).with_name("gong-meetings")
ISO_TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"


@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test gets its own SQLite file, named only through GONG_MEETINGS_DATABASE_URL."""
    return isolated_cli_database(tmp_path, monkeypatch)


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = run_cli(capsys, *args)
    assert result.code == 0, result
    assert result.err == "", result
    return result.out


def authenticates(url: str, access_key: str, secret: str) -> bool:
    """Whether the server's own credential check accepts this pair (cache disabled)."""
    database = Database(url)
    try:
        asyncio.run(Authenticator(database, 0).verify(access_key, secret))
    except Unauthorized:
        return False
    finally:
        database.close()
    return True


def accounts(url: str) -> AccountService:
    return AccountService(Database(url))


@pytest.fixture
def acme(capsys: pytest.CaptureFixture[str]) -> str:
    """Workspace `acme` with the user a@acme.test, made through the CLI."""
    ok(capsys, "workspaces", "create", "acme")
    ok(capsys, "users", "add", "a@acme.test", "--workspace", "acme")
    return "acme"


# --- migrate -------------------------------------------------------------------------------


def test_migrate_builds_the_schema_and_names_the_revision(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    out = ok(capsys, "migrate")
    head = head_revision()
    assert out.strip() == f"schema upgraded from empty to revision {head}"
    assert current_revision(Database(database_url).engine) == head
    assert ok(capsys, "migrate").strip() == f"schema already at revision {head}"


def test_every_command_reads_the_database_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(capsys, "workspaces", "create", "in-first")
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", f"sqlite:///{tmp_path}/second.db")
    assert ok(capsys, "workspaces", "list") == ""
    ok(capsys, "workspaces", "create", "in-second")
    assert ok(capsys, "workspaces", "list").split("\t")[0] == "in-second"
    assert (tmp_path / "second.db").exists()
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert [line.split("\t")[0] for line in ok(capsys, "workspaces", "list").splitlines()] == [
        "in-first"
    ]


# --- workspaces ----------------------------------------------------------------------------


def test_workspaces_create_and_list(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    assert ok(capsys, "workspaces", "create", "acme") == "created workspace acme\n"
    assert (
        ok(capsys, "workspaces", "create", "ci", "--auto-provision-users")
        == "created workspace ci\n"
    )

    lines = ok(capsys, "workspaces", "list").splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"acme\t{ISO_TIMESTAMP}\t3/second\t10000/day", lines[0]), lines
    assert re.fullmatch(
        rf"ci\t{ISO_TIMESTAMP}\t3/second\t10000/day\tauto-provision-users", lines[1]
    ), lines

    stored = {w.name: w.auto_provision_users for w in accounts(database_url).list_workspaces()}
    assert stored == {"acme": False, "ci": True}


def test_workspaces_list_on_an_empty_database_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert ok(capsys, "workspaces", "list") == ""


# --- keys ----------------------------------------------------------------------------------


def test_keys_create_json_prints_one_object_that_authenticates(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    out = ok(capsys, "keys", "create", "--workspace", acme, "--json")
    assert out.endswith("\n") and out.count("\n") == 1, out
    key = json.loads(out)
    assert isinstance(key, dict)
    assert set(key) == {"accessKey", "accessKeySecret"}
    assert all(isinstance(value, str) and value for value in key.values())
    assert len(key["accessKeySecret"]) >= 43  # 32 random bytes, base64url

    assert authenticates(database_url, key["accessKey"], key["accessKeySecret"])
    assert not authenticates(database_url, key["accessKey"], key["accessKeySecret"] + "x")
    # Only a digest is stored, never the secret itself.
    (stored,) = accounts(database_url).list_keys(acme)
    assert stored.access_key == key["accessKey"]
    assert key["accessKeySecret"].encode() not in stored.secret_digest


def test_keys_create_plain_prints_key_and_secret(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    out = ok(capsys, "keys", "create", "--workspace", acme)
    match = re.fullmatch(r"accessKey:\s+(\S+)\naccessKeySecret:\s+(\S+)\n", out)
    assert match, out
    assert authenticates(database_url, match[1], match[2])


def test_keys_list_never_shows_secrets(capsys: pytest.CaptureFixture[str], acme: str) -> None:
    created = [
        json.loads(ok(capsys, "keys", "create", "--workspace", acme, "--json")) for _ in range(2)
    ]
    ok(capsys, "workspaces", "create", "other")
    other = json.loads(ok(capsys, "keys", "create", "--workspace", "other", "--json"))

    out = ok(capsys, "keys", "list", "--workspace", acme)
    lines = out.splitlines()
    assert len(lines) == 2
    listed = {line.split("\t")[0] for line in lines}
    assert listed == {key["accessKey"] for key in created}
    for line in lines:
        assert re.fullmatch(rf"[A-Z2-7]{{32}}\t{ISO_TIMESTAMP}\tactive", line), line
    for key in [*created, other]:
        assert key["accessKeySecret"] not in out
    assert other["accessKey"] not in out


def test_keys_revoke_stops_the_key(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    key = json.loads(ok(capsys, "keys", "create", "--workspace", acme, "--json"))
    kept = json.loads(ok(capsys, "keys", "create", "--workspace", acme, "--json"))

    assert ok(capsys, "keys", "revoke", key["accessKey"]) == f"revoked {key['accessKey']}\n"

    states = {
        line.split("\t")[0]: line.split("\t")[2]
        for line in ok(capsys, "keys", "list", "--workspace", acme).splitlines()
    }
    assert states[kept["accessKey"]] == "active"
    assert re.fullmatch(rf"revoked {ISO_TIMESTAMP}", states[key["accessKey"]])
    assert not authenticates(database_url, key["accessKey"], key["accessKeySecret"])
    assert authenticates(database_url, kept["accessKey"], kept["accessKeySecret"])

    # A key already revoked is no longer an active key to revoke.
    assert_one_line_error(run_cli(capsys, "keys", "revoke", key["accessKey"]), key["accessKey"])


# --- users ---------------------------------------------------------------------------------


def test_users_add_list_remove(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    ok(capsys, "workspaces", "create", "acme")
    ok(capsys, "workspaces", "create", "other")
    assert (
        ok(capsys, "users", "add", "zed@acme.test", "--workspace", "acme", "--name", "Zed Z")
        == "added zed@acme.test\n"
    )
    # Addresses are stored lower-cased: they are matched case-insensitively.
    assert (
        ok(capsys, "users", "add", "Ann@ACME.test", "--workspace", "acme")
        == "added ann@acme.test\n"
    )
    ok(capsys, "users", "add", "bob@other.test", "--workspace", "other")

    assert ok(capsys, "users", "list", "--workspace", "acme") == (
        "ann@acme.test\nzed@acme.test\tZed Z\n"
    )
    assert ok(capsys, "users", "list", "--workspace", "other") == "bob@other.test\n"

    assert (
        ok(capsys, "users", "remove", "ZED@acme.test", "--workspace", "acme")
        == "removed ZED@acme.test\n"
    )
    assert ok(capsys, "users", "list", "--workspace", "acme") == "ann@acme.test\n"
    assert [u.email for u in accounts(database_url).list_users("acme")] == ["ann@acme.test"]


def test_users_remove_takes_their_integrations(
    capsys: pytest.CaptureFixture[str], acme: str
) -> None:
    ok(capsys, "users", "add", "b@acme.test", "--workspace", acme)
    ok(capsys, "integrations", "set", "a@acme.test", "zoom", "Active", "--workspace", acme)
    ok(capsys, "integrations", "set", "b@acme.test", "zoom", "Active", "--workspace", acme)
    ok(capsys, "users", "remove", "a@acme.test", "--workspace", acme)
    assert ok(capsys, "integrations", "list", "--workspace", acme) == "b@acme.test\tZoom\tActive\n"
    # Re-adding the user starts clean: the old integration is gone, not hidden.
    ok(capsys, "users", "add", "a@acme.test", "--workspace", acme)
    assert ok(capsys, "integrations", "list", "--workspace", acme) == "b@acme.test\tZoom\tActive\n"


# --- integrations --------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Active", "Inactive", "Error"])
def test_integrations_set_each_status(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str, status: str
) -> None:
    out = ok(
        capsys,
        "integrations",
        "set",
        "a@acme.test",
        "Zoom",
        status,
        "--workspace",
        acme,
        "--details",
        f"set to {status}",
    )
    assert out == f"a@acme.test Zoom {status}\n"
    assert ok(capsys, "integrations", "list", "--workspace", acme) == (
        f"a@acme.test\tZoom\t{status}\tset to {status}\n"
    )
    (stored,) = accounts(database_url).list_integrations(acme)
    assert (stored.user_email, stored.provider, stored.status, stored.details) == (
        "a@acme.test",
        "Zoom",
        status,
        f"set to {status}",
    )


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("zoom", "Zoom"),
        ("ZOOM", "Zoom"),
        ("Google Meet", "Google Meet"),
        ("google_meet", "Google Meet"),
        ("meet", "Google Meet"),
        ("Microsoft Teams", "Microsoft Teams"),
        ("teams", "Microsoft Teams"),
        ("msteams", "Microsoft Teams"),
        ("Webex", "Webex"),
        ("webex", "Webex"),
    ],
)
def test_integrations_set_accepts_provider_aliases(
    capsys: pytest.CaptureFixture[str], acme: str, alias: str, canonical: str
) -> None:
    out = ok(capsys, "integrations", "set", "a@acme.test", alias, "Active", "--workspace", acme)
    assert out == f"a@acme.test {canonical} Active\n"
    assert ok(capsys, "integrations", "list", "--workspace", acme) == (
        f"a@acme.test\t{canonical}\tActive\n"
    )


def test_integrations_set_replaces_and_matches_status_case_insensitively(
    capsys: pytest.CaptureFixture[str], acme: str
) -> None:
    ok(capsys, "users", "add", "b@acme.test", "--workspace", acme)
    set_args = ("--workspace", acme)
    ok(capsys, "integrations", "set", "a@acme.test", "teams", "Active", *set_args, "--details", "x")
    ok(capsys, "integrations", "set", "A@ACME.TEST", "Microsoft Teams", "error", *set_args)
    ok(capsys, "integrations", "set", "b@acme.test", "zoom", "inactive", *set_args)
    ok(capsys, "integrations", "set", "a@acme.test", "meet", "Active", *set_args)
    assert ok(capsys, "integrations", "list", "--workspace", acme) == (
        "a@acme.test\tGoogle Meet\tActive\n"
        "a@acme.test\tMicrosoft Teams\tError\n"
        "b@acme.test\tZoom\tInactive\n"
    )


def test_integrations_list_is_scoped_to_the_workspace(
    capsys: pytest.CaptureFixture[str], acme: str
) -> None:
    ok(capsys, "workspaces", "create", "other")
    ok(capsys, "users", "add", "a@acme.test", "--workspace", "other")
    ok(capsys, "integrations", "set", "a@acme.test", "zoom", "Active", "--workspace", "other")
    assert ok(capsys, "integrations", "list", "--workspace", acme) == ""
    assert ok(capsys, "integrations", "list", "--workspace", "other") == (
        "a@acme.test\tZoom\tActive\n"
    )


# --- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["bogus"], ["bogus"]),
        (["workspaces", "delete", "acme"], ["delete"]),
        (["workspaces", "create", "x", "--bogus-flag"], ["--bogus-flag"]),
        (["workspaces", "create"], ["NAME"]),
        (["workspaces", "create", "acme"], ["acme", "already exists"]),
        (["workspaces", "create", ""], ["workspace name"]),
        (["workspaces", "create", "   "], ["workspace name"]),
        (["keys", "create"], ["--workspace"]),
        (["keys", "list"], ["--workspace"]),
        (["users", "list"], ["--workspace"]),
        (["users", "add", "b@acme.test"], ["--workspace"]),
        (["users", "remove", "a@acme.test"], ["--workspace"]),
        (["integrations", "set", "a@acme.test", "zoom", "Active"], ["--workspace"]),
        (["integrations", "list"], ["--workspace"]),
        (["integrations", "set", "a@acme.test", "zoom", "--workspace", "acme"], ["STATUS"]),
        (["keys", "create", "--workspace", "nope"], ["nope", "workspaces create"]),
        (["keys", "list", "--workspace", "nope"], ["nope"]),
        (["users", "add", "b@acme.test", "--workspace", "nope"], ["nope"]),
        (["users", "list", "--workspace", "nope"], ["nope"]),
        (["integrations", "list", "--workspace", "nope"], ["nope"]),
        (["users", "add", "a@acme.test", "--workspace", "acme"], ["a@acme.test", "already"]),
        (["users", "add", "A@Acme.Test", "--workspace", "acme"], ["a@acme.test", "already"]),
        (["users", "add", "not-an-email", "--workspace", "acme"], ["not-an-email"]),
        (["users", "add", "two@@acme.test", "--workspace", "acme"], ["two@@acme.test"]),
        (
            ["integrations", "set", "a@acme.test", "skype", "Active", "--workspace", "acme"],
            ["skype", "Zoom", "Google Meet", "Microsoft Teams", "Webex"],
        ),
        (
            ["integrations", "set", "a@acme.test", "zoom", "Pending", "--workspace", "acme"],
            ["Pending", "Active", "Inactive", "Error"],
        ),
        (
            ["integrations", "set", "nobody@acme.test", "zoom", "Active", "--workspace", "acme"],
            ["nobody@acme.test"],
        ),
        (["keys", "revoke", "NOSUCHKEY"], ["NOSUCHKEY"]),
        (["keys", "revoke"], ["ACCESS_KEY"]),
        (["users", "remove", "nobody@acme.test", "--workspace", "acme"], ["nobody@acme.test"]),
        (["serve", "--port", "notaport"], ["--port"]),
        (["serve", "--port", "70000"], ["--port"]),
    ],
)
def test_bad_arguments_give_one_line_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    acme: str,
    args: list[str],
    fragments: list[str],
) -> None:
    before = state(capsys)
    assert_one_line_error(run_cli(capsys, *args), *fragments)
    assert state(capsys) == before  # a failed command changes nothing


def state(capsys: pytest.CaptureFixture[str]) -> tuple[str, ...]:
    return (
        "\n".join(line.split("\t")[0] for line in ok(capsys, "workspaces", "list").splitlines()),
        ok(capsys, "keys", "list", "--workspace", "acme"),
        ok(capsys, "users", "list", "--workspace", "acme"),
        ok(capsys, "integrations", "list", "--workspace", "acme"),
    )


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("nonsense", ["GONG_MEETINGS_DATABASE_URL", "nonsense"]),
        ("mysql://x", ["GONG_MEETINGS_DATABASE_URL", "mysql"]),
        ("postgresql://user:hunter2@127.0.0.1:1/db", ["cannot use the database", "127.0.0.1:1"]),
        ("sqlite:////nonexistent-dir/sub/x.db", ["database"]),
    ],
)
@pytest.mark.parametrize(
    "args",
    [["migrate"], ["workspaces", "list"], ["keys", "create", "--workspace", "acme", "--json"]],
)
def test_a_bad_database_url_gives_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    fragments: list[str],
    args: list[str],
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", url)
    assert_one_line_error(run_cli(capsys, *args), *fragments)


def test_a_bad_setting_gives_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_PORT", "eighty")
    assert_one_line_error(run_cli(capsys, "workspaces", "list"), "GONG_MEETINGS_PORT", "eighty")


@pytest.mark.parametrize("args", [[], ["users"], ["keys"]])
def test_a_group_without_its_subcommand_is_not_a_multi_line_error(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """Either help on stdout with exit 0, or the usual one `error:` line with a non-zero exit."""
    result = run_cli(capsys, *args)
    if result.code == 0:
        assert "Usage:" in result.out and "error" not in result.err
    else:
        assert_one_line_error(result)


def test_help_and_version_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    help_text = ok(capsys, "--help")
    for command in ("serve", "migrate", "workspaces", "keys", "users", "integrations"):
        assert command in help_text
    assert "--auto-provision-users" in ok(capsys, "workspaces", "create", "--help")
    assert "0.1.0" in ok(capsys, "--version")


# --- the installed console script ----------------------------------------------------------


def script(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed at {SCRIPT}")
    return subprocess.run(
        [str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_installed_script_runs_the_admin_commands(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "GONG_MEETINGS_DATABASE_URL": database_url}
    assert script("workspaces", "create", "acme", env=env, cwd=tmp_path).returncode == 0
    created = script("keys", "create", "--workspace", "acme", "--json", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert set(key) == {"accessKey", "accessKeySecret"}
    assert authenticates(database_url, key["accessKey"], key["accessKeySecret"])


@pytest.mark.parametrize(
    ("args", "url", "fragment"),
    [
        (["bogus"], None, "bogus"),
        (["keys", "create", "--workspace", "nope"], None, "nope"),
        (["workspaces", "list"], "mysql://x", "GONG_MEETINGS_DATABASE_URL"),
    ],
)
def test_installed_script_gives_one_line_errors(
    database_url: str, tmp_path: Path, args: list[str], url: str | None, fragment: str
) -> None:
    env = {**os.environ, "GONG_MEETINGS_DATABASE_URL": url or database_url}
    result = script(*args, env=env, cwd=tmp_path)
    assert_one_line_error(CliResult(result.returncode, result.stdout, result.stderr), fragment)
