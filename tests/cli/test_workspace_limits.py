"""Per-workspace rate limits through the CLI: `workspaces create/update/list`, and `serve`.

Limits are set with --rate-limit-per-second and --rate-limit-per-day (integers 1 to 2**31 - 1),
shown by `workspaces list` and `workspaces update`, and read back through AccountService to be
sure what is printed is what is stored. `serve --workers N` needs Redis to share the counts.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gong_meetings.records import Quota
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from tests.cli.test_cli import ISO_TIMESTAMP, ok, script
from tests.helpers import CliResult, assert_one_line_error, isolated_cli_database, run_cli

MAX_CALLS = 2**31 - 1
PER_SECOND = "--rate-limit-per-second"
PER_DAY = "--rate-limit-per-day"
RANGE_ERRORS = {
    PER_SECOND: f"the rate limit per second must be between 1 and {MAX_CALLS}",
    PER_DAY: f"the rate limit per day must be between 1 and {MAX_CALLS}",
}


@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test gets its own SQLite file, named only through GONG_MEETINGS_DATABASE_URL."""
    return isolated_cli_database(tmp_path, monkeypatch)


def stored(url: str) -> dict[str, tuple[Quota, bool]]:
    """Each workspace's limits and auto-provisioning, as the service reads them back."""
    database = Database(url)
    try:
        return {
            w.name: (w.quota, w.auto_provision_users)
            for w in AccountService(database).list_workspaces()
        }
    finally:
        database.close()


def described(name: str, per_second: int, per_day: int, auto: bool = False) -> str:
    """The pattern of one workspace as `list` and `update` print it."""
    suffix = r"\tauto-provision-users" if auto else ""
    return rf"{re.escape(name)}\t{ISO_TIMESTAMP}\t{per_second}/second\t{per_day}/day{suffix}"


def listed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return ok(capsys, "workspaces", "list").splitlines()


def created_at(line: str) -> str:
    return line.split("\t")[1]


# --- workspaces create ---------------------------------------------------------------------


def test_create_with_both_limits_lists_and_stores_them(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    out = ok(capsys, "workspaces", "create", "acme", PER_SECOND, "7", PER_DAY, "5000")
    assert out == "created workspace acme\n"
    ok(capsys, "workspaces", "create", "plain")

    lines = listed(capsys)
    assert len(lines) == 2, lines
    assert re.fullmatch(described("acme", 7, 5000), lines[0]), lines
    assert re.fullmatch(described("plain", 3, 10000), lines[1]), lines
    assert stored(database_url) == {
        "acme": (Quota(7, 5000), False),
        "plain": (Quota(3, 10000), False),
    }


@pytest.mark.parametrize(
    ("args", "quota"),
    [
        ([PER_SECOND, "11"], Quota(11, 10000)),
        ([PER_DAY, "250"], Quota(3, 250)),
        ([PER_SECOND, "1", PER_DAY, str(MAX_CALLS)], Quota(1, MAX_CALLS)),
        ([PER_SECOND, str(MAX_CALLS), PER_DAY, "1"], Quota(MAX_CALLS, 1)),
        ([f"{PER_SECOND}=4", f"{PER_DAY}=40"], Quota(4, 40)),
    ],
)
def test_create_with_some_limits_keeps_gongs_default_for_the_rest(
    capsys: pytest.CaptureFixture[str], database_url: str, args: list[str], quota: Quota
) -> None:
    ok(capsys, "workspaces", "create", "acme", "--auto-provision-users", *args)
    (line,) = listed(capsys)
    assert re.fullmatch(described("acme", quota.per_second, quota.per_day, auto=True), line)
    assert stored(database_url) == {"acme": (quota, True)}


# --- workspaces update ---------------------------------------------------------------------


@pytest.fixture
def acme(capsys: pytest.CaptureFixture[str]) -> str:
    """Workspace `acme` at 7 calls a second and 5000 a day; returns its creation timestamp."""
    ok(capsys, "workspaces", "create", "acme", PER_SECOND, "7", PER_DAY, "5000")
    (line,) = listed(capsys)
    return created_at(line)


def update(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`workspaces update acme ARGS`: its one line of output, without the newline."""
    out = ok(capsys, "workspaces", "update", "acme", *args)
    assert out.endswith("\n") and out.count("\n") == 1, out
    return out.rstrip("\n")


def test_update_per_second_alone_keeps_the_daily_limit(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    line = update(capsys, PER_SECOND, "9")
    assert re.fullmatch("updated workspace " + described("acme", 9, 5000), line), line
    assert created_at(line.removeprefix("updated workspace ")) == acme
    assert stored(database_url) == {"acme": (Quota(9, 5000), False)}
    assert listed(capsys) == [line.removeprefix("updated workspace ")]


def test_update_per_day_alone_keeps_the_per_second_limit(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    line = update(capsys, PER_DAY, "123")
    assert re.fullmatch("updated workspace " + described("acme", 7, 123), line), line
    assert created_at(line.removeprefix("updated workspace ")) == acme
    assert stored(database_url) == {"acme": (Quota(7, 123), False)}
    assert listed(capsys) == [line.removeprefix("updated workspace ")]


def test_updates_one_after_another_accumulate(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    update(capsys, PER_SECOND, "1")
    update(capsys, PER_DAY, str(MAX_CALLS))
    line = update(capsys, PER_SECOND, str(MAX_CALLS), PER_DAY, "1")
    assert re.fullmatch("updated workspace " + described("acme", MAX_CALLS, 1), line), line
    assert stored(database_url) == {"acme": (Quota(MAX_CALLS, 1), False)}


def test_update_turns_auto_provisioning_on_and_off_and_keeps_the_limits(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    line = update(capsys, "--auto-provision-users")
    assert re.fullmatch("updated workspace " + described("acme", 7, 5000, auto=True), line), line
    assert stored(database_url) == {"acme": (Quota(7, 5000), True)}
    assert listed(capsys) == [line.removeprefix("updated workspace ")]

    line = update(capsys, "--no-auto-provision-users")
    assert re.fullmatch("updated workspace " + described("acme", 7, 5000), line), line
    assert stored(database_url) == {"acme": (Quota(7, 5000), False)}
    assert listed(capsys) == [line.removeprefix("updated workspace ")]


def test_changing_limits_keeps_auto_provisioning(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    ok(capsys, "workspaces", "create", "acme", "--auto-provision-users")
    line = update(capsys, PER_DAY, "99")
    assert re.fullmatch("updated workspace " + described("acme", 3, 99, auto=True), line), line
    assert stored(database_url) == {"acme": (Quota(3, 99), True)}


def test_update_of_all_three_at_once(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    line = update(capsys, PER_SECOND, "2", PER_DAY, "20", "--auto-provision-users")
    assert re.fullmatch("updated workspace " + described("acme", 2, 20, auto=True), line), line
    assert stored(database_url) == {"acme": (Quota(2, 20), True)}


def test_update_changes_only_the_named_workspace(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    ok(capsys, "workspaces", "create", "other", PER_SECOND, "5", PER_DAY, "50")
    update(capsys, PER_SECOND, "8", "--auto-provision-users")
    assert stored(database_url) == {
        "acme": (Quota(8, 5000), True),
        "other": (Quota(5, 50), False),
    }


def test_update_with_nothing_to_change_is_an_error(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str
) -> None:
    line = assert_one_line_error(
        run_cli(capsys, "workspaces", "update", "acme"), "nothing to change"
    )
    for option in (PER_SECOND, PER_DAY, "auto-provision-users"):
        assert option in line
    assert stored(database_url) == {"acme": (Quota(7, 5000), False)}


@pytest.mark.parametrize(
    "args",
    [[PER_SECOND, "5"], [PER_DAY, "5"], ["--auto-provision-users"], ["--no-auto-provision-users"]],
)
def test_update_of_an_unknown_workspace_is_an_error_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str, args: list[str]
) -> None:
    assert_one_line_error(
        run_cli(capsys, "workspaces", "update", "nope", *args),
        "no workspace named 'nope'",
        "workspaces create nope",
    )
    assert stored(database_url) == {"acme": (Quota(7, 5000), False)}


# --- values out of range -------------------------------------------------------------------

NOT_IN_RANGE = ["0", "-1", str(MAX_CALLS + 1), "99999999999999999999"]
NOT_INTEGERS = ["abc", "1.5", ""]


def bad_value_fragments(option: str, value: str) -> list[str]:
    if value in NOT_IN_RANGE:
        return [RANGE_ERRORS[option]]
    return [option, repr(value)]  # click names the option and the value it could not read


@pytest.mark.parametrize("value", NOT_IN_RANGE + NOT_INTEGERS)
@pytest.mark.parametrize("option", [PER_SECOND, PER_DAY])
def test_create_refuses_a_bad_limit_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], database_url: str, option: str, value: str
) -> None:
    result = run_cli(capsys, "workspaces", "create", "acme", option, value)
    assert_one_line_error(result, *bad_value_fragments(option, value))
    assert listed(capsys) == []


@pytest.mark.parametrize("value", NOT_IN_RANGE + NOT_INTEGERS)
@pytest.mark.parametrize("option", [PER_SECOND, PER_DAY])
def test_update_refuses_a_bad_limit_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], database_url: str, acme: str, option: str, value: str
) -> None:
    before = listed(capsys)
    # The other limit and the flag are valid: the bad value must stop them being applied too.
    other = PER_DAY if option == PER_SECOND else PER_SECOND
    result = run_cli(
        capsys, "workspaces", "update", "acme", option, value, other, "2", "--auto-provision-users"
    )
    assert_one_line_error(result, *bad_value_fragments(option, value))
    assert listed(capsys) == before
    assert stored(database_url) == {"acme": (Quota(7, 5000), False)}


def test_help_names_the_limit_options(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("create", "update"):
        text = ok(capsys, "workspaces", command, "--help")
        assert PER_SECOND in text and PER_DAY in text, text
    assert "--no-auto-provision-users" in ok(capsys, "workspaces", "update", "--help")


# --- serve ---------------------------------------------------------------------------------


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """uvicorn.run replaced by a recorder; the working directory is an empty tmp folder.

    `serve` writes GONG_MEETINGS_HOST and _PORT into the environment for its workers; setting
    them here first makes monkeypatch remove them again afterwards.
    """
    import uvicorn

    runs: list[dict[str, Any]] = []

    def record(app: str, **kwargs: Any) -> None:
        runs.append({"app": app, **kwargs})

    monkeypatch.setattr(uvicorn, "run", record)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("GONG_MEETINGS_HOST", "127.0.0.1")
    monkeypatch.setenv("GONG_MEETINGS_PORT", "8000")
    yield runs


def test_serve_with_several_workers_and_no_redis_refuses_before_touching_anything(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    database = tmp_path / "serve.db"
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", f"sqlite:///{database}")

    result = run_cli(capsys, "serve", "--workers", "2", "--port", "0")

    assert result.code == 1, result
    line = assert_one_line_error(result)
    assert line.startswith("error: --workers 2 needs GONG_MEETINGS_REDIS_URL: "), line
    assert "GONG_MEETINGS_REDIS_URL=redis://" in line
    assert uvicorn_runs == []
    assert not database.exists()  # no database made, so nothing bootstrapped either
    assert list(Path.cwd().iterdir()) == []


@pytest.mark.parametrize("workers", ["3", "64"])
def test_serve_names_the_worker_count_it_refuses(
    capsys: pytest.CaptureFixture[str], uvicorn_runs: list[dict[str, Any]], workers: str
) -> None:
    result = run_cli(capsys, "serve", "--workers", workers)
    assert result.code == 1
    assert_one_line_error(result, f"--workers {workers} needs GONG_MEETINGS_REDIS_URL")
    assert uvicorn_runs == []


def test_serve_with_several_workers_and_redis_starts_them(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("GONG_MEETINGS_REDIS_URL", "redis://127.0.0.1:6379/0")
    result = run_cli(capsys, "serve", "--workers", "2", "--port", "0")
    assert result.code == 0, result
    assert [(run["app"], run["workers"]) for run in uvicorn_runs] == [
        ("gong_meetings.server.app:serve_app", 2)
    ]
    assert "Created workspace 'default'" in result.out


def test_serve_with_one_worker_needs_no_redis(
    capsys: pytest.CaptureFixture[str], uvicorn_runs: list[dict[str, Any]]
) -> None:
    result = run_cli(capsys, "serve", "--port", "0")
    assert result.code == 0, result
    assert [run["workers"] for run in uvicorn_runs] == [1]


def test_the_first_serve_bootstraps_default_with_gongs_limits(
    capsys: pytest.CaptureFixture[str], database_url: str, uvicorn_runs: list[dict[str, Any]]
) -> None:
    first = run_cli(capsys, "serve", "--port", "0")
    assert first.code == 0, first
    assert "accessKeySecret" in first.out
    (line,) = listed(capsys)
    assert re.fullmatch(described("default", 3, 10000), line), line
    assert stored(database_url) == {"default": (Quota(3, 10000), False)}

    # A later serve leaves it be, limits changed by the operator included.
    ok(capsys, "workspaces", "update", "default", PER_SECOND, "50")
    second = run_cli(capsys, "serve", "--port", "0")
    assert second.code == 0, second
    assert "accessKeySecret" not in second.out
    assert stored(database_url) == {"default": (Quota(50, 10000), False)}
    assert len(uvicorn_runs) == 2


# --- bad settings, through the CLI ---------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GONG_MEETINGS_REDIS_URL", "http://x"),
        ("GONG_MEETINGS_REDIS_URL", "localhost:6379"),
        ("GONG_MEETINGS_AUTH_FAILURES_PER_MINUTE", "0"),
        ("GONG_MEETINGS_AUTH_FAILURES_PER_MINUTE", "many"),
        ("GONG_MEETINGS_TRUSTED_PROXIES", "10.0.0.1, proxy.internal"),
    ],
)
@pytest.mark.parametrize("args", [["serve"], ["serve", "--workers", "2"], ["workspaces", "list"]])
def test_a_bad_rate_limit_setting_gives_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    uvicorn_runs: list[dict[str, Any]],
    variable: str,
    value: str,
    args: list[str],
) -> None:
    monkeypatch.setenv(variable, value)
    bad_item = value.split(", ")[-1]
    assert_one_line_error(run_cli(capsys, *args), variable, bad_item)
    assert uvicorn_runs == []
    assert not (tmp_path / "cli.db").exists()


# --- the installed console script ----------------------------------------------------------


def test_installed_script_updates_a_workspace(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    ok(capsys, "workspaces", "create", "acme", PER_SECOND, "7")
    env = {**os.environ, "GONG_MEETINGS_DATABASE_URL": database_url}

    result = script("workspaces", "update", "acme", PER_DAY, "42", env=env, cwd=tmp_path)

    assert (result.returncode, result.stderr) == (0, ""), result
    assert re.fullmatch("updated workspace " + described("acme", 7, 42) + "\n", result.stdout)
    assert stored(database_url) == {"acme": (Quota(7, 42), False)}

    refused = script("workspaces", "update", "acme", PER_SECOND, "0", env=env, cwd=tmp_path)
    assert_one_line_error(
        CliResult(refused.returncode, refused.stdout, refused.stderr), RANGE_ERRORS[PER_SECOND]
    )
    assert stored(database_url) == {"acme": (Quota(7, 42), False)}
