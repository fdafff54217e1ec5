"""Requests through the whole server in one process, for `bench/instructions.py --served`.

`instructions.py` alone drives the app over ASGI: what a request costs the app. Served, a
request also costs uvicorn's HTTP protocol (`serve`'s, with its header checks and the joined
writes) and the access log's JSON line. This drives that protocol itself: 32 connections on
transports that hand each answer back and send the connection's next request, with the JSON
log configured as `serve` configures it, writing to /dev/null. Only the kernel is left out.
The ceiling app (bench/ceiling.py) can be driven the same way, to compare the two without the
noise of a shared machine (though not as `bench/run` does: see bench/README.md, ninth session).
"""

import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

CONNECTIONS = 32
WARM_UP_MEETINGS = 300


class _Transport(asyncio.Transport):
    """What the protocol writes to, handed to `written`; the rest is what uvicorn asks of a
    transport."""

    def __init__(self, written: Callable[[bytes], None]) -> None:
        super().__init__()
        self._written = written
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._written(bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def operation_requests(bench_run: Any) -> Callable[[str, int, str], tuple[str, str, bytes]]:
    """What both of `instructions.py`'s drivers send: for an operation, a request's index and a
    meeting's id, the request's method, path (with any query) and body."""
    meeting = json.dumps(bench_run.MEETING).encode()
    status = json.dumps({"userEmail": bench_run.ORGANIZER}).encode()

    def nth(name: str, index: int, meeting_id: str) -> tuple[str, str, bytes]:
        if name == "ceiling":
            return "POST", "/", meeting
        if name == "create":
            return "POST", "/v2/meetings", meeting
        if name == "get":
            return "GET", "/v2/meetings/" + meeting_id, b""
        if name == "update":
            return "PUT", "/v2/meetings/" + meeting_id, b'{"title":"Renamed %d"}' % index
        if name == "status":
            return "POST", "/v2/meetings/integration-status", status
        return "GET", "/v2/meetings?limit=20", b""

    return nth


def drive_served(operation: str, requests: int, bench_run: Any, rounds: int = 1) -> float:
    """Send `requests` of `operation` (or to the ceiling), `rounds` times over, after a quarter
    as many to warm up; the CPU seconds of the last round."""
    import uvloop
    from list_scaling import prepare  # bench/ is scripts, not a package
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from gong_meetings.cli import server_options
    from gong_meetings.config import Settings
    from gong_meetings.server.protocol import GuardedHttpToolsProtocol

    os.environ["GONG_MEETINGS_LOG_FORMAT"] = "json"
    # `serve`'s options: its protocol, no uvicorn access log, and its logging, but to /dev/null.
    options = server_options(Settings.from_env())
    options["log_config"]["handlers"]["default"]["stream"] = open(os.devnull, "w")  # noqa: SIM115
    authorization = b""
    if operation == "ceiling":
        from ceiling import ceiling_app

        app = ceiling_app(b"x" * 640)
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/served.db"
        os.environ["GONG_MEETINGS_DATABASE_URL"] = url
        _, (access_key, secret) = prepare(url, 0)
        authorization = base64.b64encode(f"{access_key}:{secret}".encode())
        from gong_meetings.server.app import serve_app

        app = serve_app()
    config = Config(app=app, **options, lifespan="off")
    config.load()
    nth_request = operation_requests(bench_run)
    ids: list[str] = []

    def nth(name: str, index: int) -> bytes:
        method, target, body = nth_request(name, index, ids[index % len(ids)] if ids else "")
        head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" % (method.encode(), target.encode())
        if authorization:
            head += b"Authorization: Basic " + authorization + b"\r\n"
        if body:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        return head + b"\r\n" + body

    async def main() -> float:
        loop = asyncio.get_running_loop()
        state = ServerState()
        sent = answered = wanted = 0
        sending = operation
        finished: asyncio.Future[None] = loop.create_future()

        class Connection:
            def __init__(self) -> None:
                self.protocol = GuardedHttpToolsProtocol(
                    config=config, server_state=state, app_state={}, _loop=loop
                )
                self.protocol.connection_made(_Transport(self.answered))

            def send_next(self) -> None:
                nonlocal sent
                if sent < wanted:
                    sent += 1
                    self.protocol.data_received(nth(sending, sent))

            def answered(self, data: bytes) -> None:
                nonlocal answered
                if not data.startswith(b"HTTP/1.1 2"):
                    sys.exit(f"{sending}: {data[:300]!r}")
                if sending == "create" and len(ids) < WARM_UP_MEETINGS:
                    ids.append(json.loads(data.partition(b"\r\n\r\n")[2])["meetingId"])
                answered += 1
                if answered == wanted:
                    finished.set_result(None)
                else:
                    loop.call_soon(self.send_next)

        connections = [Connection() for _ in range(CONNECTIONS)]

        async def send(name: str, count: int) -> None:
            nonlocal sent, answered, wanted, sending, finished
            sent, answered, wanted, sending = 0, 0, count, name
            finished = loop.create_future()
            for connection in connections:
                connection.send_next()
            await finished

        if operation != "ceiling":
            await send("create", WARM_UP_MEETINGS)
        await send(operation, requests // 4)
        cpu_seconds = 0.0
        for _ in range(rounds):
            started = time.process_time()
            await send(operation, requests)
            cpu_seconds = time.process_time() - started
        return cpu_seconds

    return uvloop.run(main())
