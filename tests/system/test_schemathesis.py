"""Schemathesis against a live server: every phase, every default check, zero failures.

The server runs as a real process on a fresh database (SQLite, then PostgreSQL), with a
workspace that auto-provisions users so that creates succeed. The only hooks
(schemathesis_hooks.py) keep generated `scheduledStart`/`scheduledEnd` pairs in order, a rule
JSON Schema cannot express.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import postgres_url, scratch_database
from tests.system.live import SCRIPT, admin, running_server, server_env

ST = Path(sys.executable).with_name("st")
REPO = Path(__file__).resolve().parents[2]
# Enough for every phase to reach each operation many times; about half a minute here.
MAX_EXAMPLES = "100"
SEED = "20261125"

pytestmark = pytest.mark.skipif(
    not (SCRIPT.exists() and ST.exists()), reason="needs the gong-meetings and st scripts"
)


@pytest.fixture
def fuzz_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/fuzz.db"
        return
    with scratch_database(postgres_url()) as url:
        yield url


def _credentials(env: dict[str, str], scheme: str) -> list[str]:
    """schemathesis options that authenticate every request, with a key or a bearer token."""
    if scheme == "basic":
        key = json.loads(admin(env, "keys", "create", "--workspace", "fuzz", "--json"))
        return ["--auth", f"{key['accessKey']}:{key['accessKeySecret']}"]
    token = json.loads(admin(env, "tokens", "issue", "--workspace", "fuzz", "--json"))
    return ["--header", f"Authorization: Bearer {token['accessToken']}"]


# Bearer tokens are fuzzed once, on SQLite: the storage under them is the same.
@pytest.mark.parametrize(
    ("fuzz_database_url", "scheme"),
    [("sqlite", "basic"), ("postgresql", "basic"), ("sqlite", "bearer")],
    indirect=["fuzz_database_url"],
)
def test_schemathesis_finds_nothing(tmp_path: Path, fuzz_database_url: str, scheme: str) -> None:
    env = server_env(fuzz_database_url)
    admin(env, "migrate")
    admin(
        env,
        "workspaces",
        "create",
        "fuzz",
        "--auto-provision-users",
        # The fuzzer calls far faster than Gong allows; limits have tests of their own.
        "--rate-limit-per-second=1000000",
        "--rate-limit-per-day=1000000000",
    )
    credentials = _credentials(env, scheme)

    with running_server(tmp_path, env, tmp_path / "logs") as server:
        run = subprocess.run(
            [
                str(ST),
                "run",
                f"{server.base_url}/openapi.json",
                "--url",
                f"{server.base_url}/v2",
                *credentials,
                # The contract's operations; the OAuth token endpoint follows RFC 6749 instead.
                "--include-tag",
                "Meetings",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                SEED,
                "--generation-database",
                "none",
                # One worker: with two, hypothesis's lambda-source cache races in this
                # version and schemathesis reports its own internal errors.
                "--workers",
                "1",
            ],
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.system.schemathesis_hooks",
                "PYTHONPATH": str(REPO),
            },
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        assert "No issues found" in output, output
        for phase in ("Coverage", "Fuzzing", "Stateful"):
            assert f"✅ {phase}" in output, output
        assert "Tested: 6" in output, output
        log = server.stderr()
        assert " 500 " not in log, log
        # Random ids only ever find nothing: a 200 on a real meeting's id means the stateful
        # phase followed the links from a created meeting to get, update and delete it.
        for method in ("GET", "PUT", "DELETE"):
            assert re.search(rf"{method} /v2/meetings/[0-9]+ 200 ", log), (method, log[-3000:])
