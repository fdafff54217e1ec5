"""A real `gong-meetings serve` process on a real socket, for the system tests."""

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

SCRIPT = Path(sys.executable).with_name("gong-meetings")
STARTUP_DEADLINE_SECONDS = 15.0
# Rate limits out of the way, for tests that call many times a second (Gong's are 3 a second).
ROOMY_LIMITS = ("--rate-limit-per-second", "100000", "--rate-limit-per-day", "100000000")
STOP_DEADLINE_SECONDS = 5.0
ADMIN_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONG_MEETINGS_")}
    if database_url is not None:
        env["GONG_MEETINGS_DATABASE_URL"] = database_url
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> tuple[int, float]:
        """SIGTERM, then wait; returns the exit code and how long the shutdown took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STOP_DEADLINE_SECONDS)
        return code, time.monotonic() - started

    def key(self) -> tuple[str, str]:
        """The accessKey and accessKeySecret that the first serve printed."""
        out = self.stdout()
        key = re.search(r"accessKey:\s+(\S+)", out)
        secret = re.search(r"accessKeySecret:\s+(\S+)", out)
        assert key and secret, out
        return key[1], secret[1]

    def basic(self) -> str:
        """The `Authorization` header value for the key the first serve printed."""
        access_key, secret = self.key()
        return "Basic " + base64.b64encode(f"{access_key}:{secret}".encode()).decode()


def wait_until_ready(server: Server, deadline: float) -> None:
    """Until the server answers; fails if it exits first or `deadline` (monotonic) passes."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"server exited with {server.process.returncode} before answering:\n"
                f"{server.stderr()}"
            )
        try:
            httpx.get(f"{server.base_url}/openapi.json", timeout=0.5)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"server did not answer within {STARTUP_DEADLINE_SECONDS}s:\n{server.stderr()}")


def start_server(
    cwd: Path, env: dict[str, str], logs: Path, *extra_args: str
) -> tuple[Server, list[IO[Any]]]:
    """`gong-meetings serve --port PORT EXTRA_ARGS` on a free port, its output in `logs`."""
    port = free_port()
    logs.mkdir(exist_ok=True)
    stdout_path, stderr_path = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    files: list[IO[Any]] = [stdout_path.open("wb"), stderr_path.open("wb")]
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", str(port), *extra_args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=files[0],
        stderr=files[1],
        start_new_session=True,
    )
    return Server(process, port, stdout_path, stderr_path), files


@contextmanager
def running_server(cwd: Path, env: dict[str, str], logs: Path) -> Iterator[Server]:
    server, files = start_server(cwd, env, logs)
    try:
        wait_until_ready(server, time.monotonic() + STARTUP_DEADLINE_SECONDS)
        yield server
    finally:
        if server.process.poll() is None:
            server.process.terminate()
            try:
                server.process.wait(timeout=STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        for file in files:
            file.close()


def admin(env: dict[str, str], *args: str) -> str:
    """Run `gong-meetings ARGS` (an admin command); it must succeed. Its stdout."""
    done = subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=ADMIN_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
    return done.stdout


def stop_hard(server: Server) -> None:
    """SIGTERM, then SIGKILL to the session we started it in if it does not stop in time."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextmanager
def running_servers(
    cwd: Path, env: dict[str, str], logs: Path, count: int, *extra_args: str
) -> Iterator[list[Server]]:
    """`count` separate `serve` processes, started together, each on its own port."""
    with ExitStack() as stack:
        servers: list[Server] = []
        for _ in range(count):
            server, files = start_server(cwd, env, logs, *extra_args)
            for file in files:
                stack.callback(file.close)
            stack.callback(stop_hard, server)
            servers.append(server)
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        for server in servers:
            wait_until_ready(server, deadline)
        yield servers
