#!/usr/bin/env python3
"""Instructions per request of one operation, in-process, counted by valgrind's callgrind.

    python bench/instructions.py get                   # get, create, update, status or list
    python bench/instructions.py create --requests 1000 4000

Times on a shared VM move by a quarter from one run to the next; the instructions a request
costs move by about 1%. This builds the app with `create_app` on a fresh SQLite database and
drives it over raw ASGI with 32 concurrent tasks, each request's body already received, as
`serve`'s protocol marks it. It runs that twice under callgrind, with the two request counts
given, and prints the difference in instructions over the difference in requests: start-up
and warm-up cancel out. It needs valgrind (Debian: `apt-get install valgrind`).

To compare with another commit, check that commit out beside this one and put its `src`
first: `git worktree add /tmp/before HEAD~1 && PYTHONPATH=/tmp/before/src python
bench/instructions.py get`.

With `--cpu` it runs the same requests in this process, without valgrind, once to warm up and
once measured, and prints this process's CPU time a request (`time.process_time`). That is
how the PostgreSQL steps were measured (bench/README.md, sixth session): callgrind cannot see
the work a request makes PostgreSQL's processes do, and would take hours for a run that is
mostly waiting on them. `--database-url` gives the database (it is emptied first):

    python bench/instructions.py create --cpu --requests 2000 \
        --database-url postgresql://postgres@127.0.0.1:5432/bench

With `--served` the requests go through the whole server instead, uvicorn's protocol and the
JSON access log included (bench/served.py), and `ceiling` measures bench/ceiling.py's app the
same way. The ratio of the two counts is not `bench/run`'s ratio: it leaves out the kernel and
what each instruction costs (bench/README.md, ninth session), but it moves by 1%, not a third.

    python bench/instructions.py ceiling --served
    python bench/instructions.py get --served
"""

import argparse
import asyncio
import base64
import importlib.machinery
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OPERATIONS = ("get", "create", "update", "status", "list", "ceiling")
CONCURRENCY = 32
WARM_UP_MEETINGS = 200


def count_instructions(operation: str, requests: int, served: bool = False) -> int:
    """The instructions callgrind counts in a whole run of `requests` requests."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--drive",
            operation,
            "--requests",
            str(requests),
            *(["--served"] if served else []),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if not found:
        sys.exit(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found[1])


sys.path.insert(0, str(BENCH))
from served import drive_served, operation_requests  # noqa: E402  (bench/ is scripts, not a package)


def _module(name: str, path: Path) -> Any:
    """bench/run, whose request bodies this sends too: a script without a .py suffix."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module


def drive(operation: str, requests: int, database_url: str | None = None, rounds: int = 1) -> float:
    """Send `requests` of `operation`, `rounds` times over; the CPU seconds of the last round."""
    sys.path.insert(0, str(BENCH))
    import uvloop
    from list_scaling import prepare  # bench/ is scripts, not a package

    bench_run = _module("bench_run", BENCH / "run")

    from gong_meetings.config import Settings
    from gong_meetings.server.app import create_app
    from gong_meetings.server.middleware import BODY_RECEIVED_KEY

    url = database_url or f"sqlite:///{tempfile.mkdtemp()}/instructions.db"
    _, (access_key, secret) = prepare(url, 0)
    app = create_app(Settings(database_url=url, public_base_url="http://meetings.test"))
    authorization = b"Basic " + base64.b64encode(f"{access_key}:{secret}".encode())
    meeting = json.dumps(bench_run.MEETING).encode()
    ids: list[str] = []

    async def call(method: str, path: str, body: bytes = b"", query: bytes = b"") -> bytes:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [
                (b"host", b"meetings.test"),
                (b"authorization", authorization),
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            BODY_RECEIVED_KEY: True,
        }
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            answer.update(message)

        await app(scope, receive, send)
        if not 200 <= answer["status"] < 300:
            sys.exit(f"{method} {path}: {answer['status']} {answer.get('body')!r}")
        body_sent: bytes = answer["body"]
        return body_sent

    nth_request = operation_requests(bench_run)

    def one(index: int) -> Any:
        method, target, body = nth_request(operation, index, ids[index % len(ids)])
        path, _, query = target.partition("?")
        return call(method, path, body, query.encode())

    async def main() -> None:
        for _ in range(WARM_UP_MEETINGS):
            ids.append(json.loads(await call("POST", "/v2/meetings", meeting))["meetingId"])

        async def worker(first: int, count: int) -> None:
            for index in range(first, first + count):
                await one(index)

        each = requests // CONCURRENCY
        for _ in range(rounds):
            started = time.process_time()
            await asyncio.gather(*(worker(k * each, each) for k in range(CONCURRENCY)))
            cpu_seconds[0] = time.process_time() - started

    cpu_seconds = [0.0]
    uvloop.run(main())
    return cpu_seconds[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("--requests", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--cpu", action="store_true", help="CPU time a request, no valgrind")
    parser.add_argument("--database-url", help="with --cpu: this database, emptied first")
    parser.add_argument(
        "--served",
        action="store_true",
        help="through uvicorn's protocol and the JSON access log too (bench/served.py)",
    )
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.operation == "ceiling" and not args.served:
        parser.error("the ceiling is measured --served")
    if args.served and args.database_url:
        parser.error("--served runs on a fresh SQLite database")
    if args.drive:
        if args.served:
            drive_served(args.operation, args.requests[0], _module("bench_run", BENCH / "run"))
        else:
            drive(args.operation, args.requests[0])
        return 0
    if args.cpu:
        sent = args.requests[-1] // CONCURRENCY * CONCURRENCY
        if args.served:
            bench_run = _module("bench_run", BENCH / "run")
            cpu_seconds = drive_served(args.operation, sent, bench_run, rounds=2)
        else:
            cpu_seconds = drive(args.operation, sent, args.database_url, rounds=2)
        print(f"{args.operation}: {cpu_seconds / sent * 1e6:,.1f} µs of CPU a request")
        return 0
    if args.database_url:
        parser.error("--database-url goes with --cpu")
    # Each task sends an equal share: what is sent is that share times the tasks.
    fewer, more = (count // CONCURRENCY * CONCURRENCY for count in args.requests)
    difference = count_instructions(args.operation, more, args.served) - count_instructions(
        args.operation, fewer, args.served
    )
    # Served, a run also sends a quarter as many again to warm up (bench/served.py).
    per_request = difference / (more - fewer) / (1.25 if args.served else 1)
    print(f"{args.operation}: {per_request:,.0f} instructions a request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
