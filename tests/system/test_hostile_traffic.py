"""Hostile traffic on a real socket: each attack is cut off by a timeout or a limit, and the
server keeps answering ordinary clients throughout.

One `gong-meetings serve` process, with short cut-offs, serves the whole module. Each test runs
an attacker on raw sockets while a bystander thread keeps making ordinary requests (GET
/healthz and an authenticated GET /v2/meetings); every bystander request must get 200, and
the attacker must see its 408, 431 or 413 and the connection closed within a generous bound.
After each test the process must still be alive, healthy and free of tracebacks.
"""

import json
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.helpers import REQUEST_ID
from tests.system.live import ROOMY_LIMITS, SCRIPT, Server, admin, running_server, server_env

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
MAX_HEADER_BYTES = 4096
MAX_BODY_BYTES = 64 * 1024
# How much later than its timeout an attack may be cut off: generous, for a loaded machine.
MARGIN = 4.0
# Less than uvicorn's keep-alive timeout (5 s) minus HEADER_TIMEOUT, and still generous.
KEEP_ALIVE_MARGIN = 2.5
# What an attacker sends at most when the server should stop it long before.
FLOOD_BYTES = 20_000_000
IDLE_CONNECTIONS = 300
# A bystander request that takes longer than this fails.
BYSTANDER_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    env = server_env(f"sqlite:///{root}/x.db")
    env.update(
        GONG_MEETINGS_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        GONG_MEETINGS_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        GONG_MEETINGS_MAX_HEADER_BYTES=str(MAX_HEADER_BYTES),
        GONG_MEETINGS_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
        GONG_MEETINGS_LOG_FORMAT="json",
    )
    with running_server(root, env, root / "logs") as started:
        # The bystander calls many times a second; Gong's 3 a second would refuse it.
        admin(env, "workspaces", "update", "default", *ROOMY_LIMITS)
        yield started


@pytest.fixture
def basic(server: Server) -> str:
    return server.basic()


@pytest.fixture(autouse=True)
def still_healthy(server: Server) -> Iterator[None]:
    """After each test the process still runs, answers, and logged no error meanwhile."""
    since = log_position(server)
    yield
    assert server.process.poll() is None, server.stderr()
    health = httpx.get(f"{server.base_url}/healthz", timeout=BYSTANDER_TIMEOUT)
    assert health.status_code == 200, health.text
    logged = server.stderr()[since:].splitlines()
    bad = [line for line in logged if "Traceback" in line or '"level":"ERROR"' in line]
    assert bad == [], bad


# --- ordinary clients, served while an attack goes on ----------------------------------------


@dataclass
class Bystander:
    """Makes ordinary requests in a thread, one round after another, and notes each outcome."""

    server: Server
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (started, finished)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=3 * BYSTANDER_TIMEOUT)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        auth = self.server.key()
        with httpx.Client(base_url=self.server.base_url, timeout=BYSTANDER_TIMEOUT) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    health = client.get("/healthz")
                    listed = client.get("/v2/meetings", auth=auth)
                except httpx.HTTPError as error:
                    self.failures.append(f"{type(error).__name__}: {error}")
                else:
                    for response in (health, listed):
                        if response.status_code != 200:
                            self.failures.append(f"{response.request.url}: {response.text}")
                    self.rounds.append((started, time.monotonic()))
                self._stop.wait(0.02)

    def wait_for_round_starting_after(self, moment: float) -> None:
        deadline = time.monotonic() + 2 * BYSTANDER_TIMEOUT
        while not any(started > moment for started, _ in self.rounds):
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, "the bystander got no answer"
            time.sleep(0.01)


@contextmanager
def bystander(server: Server) -> Iterator[Bystander]:
    """Ordinary traffic around the block: already answered when it starts, answered again
    after it ends, and answered 200 every time in between."""
    traffic = Bystander(server)
    traffic.start()
    try:
        traffic.wait_for_round_starting_after(0.0)
        attack_started = time.monotonic()
        yield traffic
        attack_ended = time.monotonic()
        traffic.wait_for_round_starting_after(attack_ended)
    finally:
        traffic.stop()
    assert not traffic.failures, traffic.failures
    if attack_ended - attack_started > 0.5:
        during = [r for r in traffic.rounds if attack_started < r[0] and r[1] < attack_ended]
        assert during, (attack_started, attack_ended, traffic.rounds)


# --- attackers on raw sockets ----------------------------------------------------------------


class Attacker:
    """A raw connection: a thread reads whatever the server sends until it closes, while the
    test writes to it."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened = time.monotonic()
        self.received = bytearray()
        self.first_byte_at: float | None = None
        self.ended_at: float | None = None
        self.how = ""  # "eof", "reset" or "timeout"
        self.ended = threading.Event()
        self.sent = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.how = "eof"
                    break
                if self.first_byte_at is None:
                    self.first_byte_at = time.monotonic()
                self.received += data
        except ConnectionResetError:
            self.how = "reset"
        except TimeoutError:
            self.how = "timeout"
        except OSError as error:  # closed by us
            self.how = f"error: {error}"
        self.ended_at = time.monotonic()
        self.ended.set()

    def send(self, data: bytes) -> bool:
        """False once the server has stopped taking data."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        self.sent += len(data)
        return True

    def trickle(
        self, pieces: Iterable[bytes], interval: float, bound: float, *, past_answer: bool = False
    ) -> None:
        """One piece every `interval` seconds, until the server answers (or, `past_answer`,
        until it closes), the pieces run out, or `bound` seconds have passed since the
        connection opened."""
        for piece in pieces:
            if self.ended.wait(interval) or (self.first_byte_at and not past_answer):
                return
            if time.monotonic() - self.opened > bound or not self.send(piece):
                return

    def flood(self, head: bytes, piece: bytes, total: int) -> None:
        """`head`, then `piece` again and again until `total` bytes or the server stops it."""
        if not self.send(head):
            return
        while self.sent < total and not self.ended.is_set():
            if not self.send(piece):
                return

    def wait_closed(self, bound: float) -> float:
        """Seconds from opening until the server closed the connection; fails past `bound`."""
        self.ended.wait(bound)
        assert self.ended.is_set() and self.how in ("eof", "reset"), (self.how, self.received)
        assert self.ended_at is not None
        return self.ended_at - self.opened

    def close(self) -> None:
        with suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._reader.join(timeout=5)


@contextmanager
def attacker(server: Server) -> Iterator[Attacker]:
    attack = Attacker(server)
    try:
        yield attack
    finally:
        attack.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_answers(data: bytes) -> list[Answer]:
    """Every complete HTTP/1.1 response in `data` (each must carry a Content-Length)."""
    answers = []
    rest = bytes(data)
    while b"\r\n\r\n" in rest:
        head, rest = rest.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status_line, header_lines = lines[0], lines[1:]
        assert status_line.startswith("HTTP/1.1 "), status_line
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        assert len(rest) >= length, (head, rest)
        answers.append(Answer(int(status_line.split()[1]), headers, rest[:length]))
        rest = rest[length:]
    assert rest == b"", rest
    return answers


def assert_envelope(answer: Answer, status: int, fragment: str) -> None:
    """The contract's error envelope with `status`, a message holding `fragment`, and the
    connection announced closed."""
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer.headers
    assert answer.headers["connection"] == "close", answer.headers
    body = answer.json()
    assert set(body) == {"requestId", "errors"}, body
    assert REQUEST_ID.match(body["requestId"]), body
    assert answer.headers["x-request-id"] == body["requestId"], answer.headers
    assert any(fragment in error for error in body["errors"]), (fragment, body)


def request_head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def endless(piece: bytes) -> Iterator[bytes]:
    while True:
        yield piece


# --- the server's log --------------------------------------------------------------------------


def log_position(server: Server) -> int:
    return len(server.stderr())


def wait_for_log(server: Server, since: int, **expected: Any) -> dict[str, Any]:
    """The first JSON log line written after `since` with all the `expected` fields (a
    `message` is matched as a fragment); waits a little, as the log may trail the answer."""
    deadline = time.monotonic() + 5
    while True:
        for line in server.stderr()[since:].splitlines():
            record = json.loads(line)
            if all(
                value in record.get(name, "") if name == "message" else record.get(name) == value
                for name, value in expected.items()
            ):
                return dict(record)
        assert time.monotonic() < deadline, (expected, server.stderr()[since:])
        time.sleep(0.05)


def assert_refusal_logged(server: Server, since: int, status: int, message: str) -> None:
    """A warning from the connection layer, and the refused request in the access log."""
    warning = wait_for_log(server, since, level="WARNING", message=message)
    assert warning["logger"] == "gong_meetings.server", warning
    assert "refused a request from ('127.0.0.1'" in warning["message"], warning
    access = wait_for_log(server, since, logger="gong_meetings.access", status=status)
    assert REQUEST_ID.match(access["requestId"]), access


# --- slow clients ------------------------------------------------------------------------------


def test_headers_trickled_byte_by_byte_get_408_and_the_connection_closed(
    server: Server,
) -> None:
    since = log_position(server)
    never_finished = request_head("GET", "/healthz") + b"X-Slow: " + b"a" * 1000
    with bystander(server), attacker(server) as attack:
        attack.trickle((bytes([b]) for b in never_finished), 0.2, HEADER_TIMEOUT + MARGIN)
        took = attack.wait_closed(HEADER_TIMEOUT + MARGIN)

    assert HEADER_TIMEOUT * 0.9 <= took < HEADER_TIMEOUT + MARGIN, took
    assert 0 < attack.sent < len(never_finished)
    [answer] = parse_answers(attack.received)
    message = f"request: not received in full within {HEADER_TIMEOUT:g} seconds"
    assert_envelope(answer, 408, message)
    assert_refusal_logged(server, since, 408, message)


def test_a_body_trickled_after_content_length_gets_408_and_the_connection_closed(
    server: Server, basic: str
) -> None:
    since = log_position(server)
    head = request_head(
        "POST",
        "/v2/meetings",
        f"Authorization: {basic}",
        "Content-Type: application/json",
        "Content-Length: 1000",
    )
    with bystander(server), attacker(server) as attack:
        assert attack.send(head)
        attack.trickle(endless(b" "), 0.2, BODY_TIMEOUT + MARGIN)
        took = attack.wait_closed(BODY_TIMEOUT + MARGIN)

    assert BODY_TIMEOUT * 0.9 <= took < BODY_TIMEOUT + MARGIN, took
    assert attack.sent < len(head) + 1000
    [answer] = parse_answers(attack.received)
    assert_envelope(answer, 408, f"body: not received in full within {BODY_TIMEOUT:g} seconds")
    wait_for_log(server, since, logger="gong_meetings.access", path="/v2/meetings", status=408)


def test_a_chunked_body_trickled_gets_408_and_the_connection_closed(
    server: Server, basic: str
) -> None:
    since = log_position(server)
    head = request_head(
        "POST",
        "/v2/meetings",
        f"Authorization: {basic}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    )
    with bystander(server), attacker(server) as attack:
        assert attack.send(head + chunk(b"{"))
        attack.trickle(endless(chunk(b" ")), 0.2, BODY_TIMEOUT + MARGIN)
        took = attack.wait_closed(BODY_TIMEOUT + MARGIN)

    assert BODY_TIMEOUT * 0.9 <= took < BODY_TIMEOUT + MARGIN, took
    [answer] = parse_answers(attack.received)
    assert_envelope(answer, 408, f"body: not received in full within {BODY_TIMEOUT:g} seconds")
    wait_for_log(server, since, logger="gong_meetings.access", path="/v2/meetings", status=408)


# --- idle connections --------------------------------------------------------------------------


def test_many_idle_connections_are_closed_while_others_are_served(server: Server) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE_CONNECTIONS + 200:
        pytest.skip(f"ulimit -n is {soft}; {IDLE_CONNECTIONS} idle connections need more")
    selector = selectors.DefaultSelector()
    idle: list[socket.socket] = []
    closed_at: dict[int, float] = {}
    received: dict[int, bytes] = {}
    try:
        with bystander(server):
            for _ in range(IDLE_CONNECTIONS):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, len(idle))
                idle.append(sock)
            all_open = time.monotonic()
            deadline = all_open + HEADER_TIMEOUT + MARGIN
            while len(closed_at) < len(idle) and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if data:
                        received[key.data] = received.get(key.data, b"") + data
                    else:
                        closed_at[key.data] = time.monotonic()
                        selector.unregister(sock)
    finally:
        selector.close()
        for sock in idle:
            sock.close()

    still_open = len(idle) - len(closed_at)
    assert still_open == 0, f"{still_open} of {len(idle)} idle connections were not closed"
    # Closed silently: a connection that sent nothing gets no answer to misread.
    assert received == {}, received
    assert max(closed_at.values()) - all_open < HEADER_TIMEOUT + MARGIN


def test_an_idle_keep_alive_connection_is_closed_after_its_response(server: Server) -> None:
    with bystander(server), attacker(server) as attack:
        assert attack.send(request_head("GET", "/healthz"))
        deadline = time.monotonic() + BYSTANDER_TIMEOUT
        while b'{"status":"ok"}' not in attack.received:
            assert time.monotonic() < deadline and not attack.ended.is_set(), attack.received
            time.sleep(0.01)
        answered = time.monotonic()
        attack.wait_closed(HEADER_TIMEOUT + MARGIN + BYSTANDER_TIMEOUT)

    assert attack.how == "eof", attack.how
    assert attack.ended_at is not None
    # Closed by the header deadline, which runs again from the end of the response; uvicorn's
    # own keep-alive timeout (5 s) would be later than this bound.
    assert attack.ended_at - answered < HEADER_TIMEOUT + KEEP_ALIVE_MARGIN
    [answer] = parse_answers(attack.received)  # nothing more than the one answer
    assert answer.status == 200, answer
    assert answer.headers.get("connection") != "close", answer.headers


def test_a_second_request_started_and_left_unfinished_gets_408(server: Server) -> None:
    since = log_position(server)
    with bystander(server), attacker(server) as attack:
        assert attack.send(request_head("GET", "/healthz"))
        deadline = time.monotonic() + BYSTANDER_TIMEOUT
        while b'{"status":"ok"}' not in attack.received:
            assert time.monotonic() < deadline and not attack.ended.is_set(), attack.received
            time.sleep(0.01)
        assert attack.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        attack.wait_closed(HEADER_TIMEOUT + MARGIN)

    first, second = parse_answers(attack.received)
    assert first.status == 200, first
    message = f"request: not received in full within {HEADER_TIMEOUT:g} seconds"
    assert_envelope(second, 408, message)
    assert_refusal_logged(server, since, 408, message)


# --- oversized headers -------------------------------------------------------------------------


def test_oversized_headers_in_one_write_get_431_and_the_connection_closed(
    server: Server,
) -> None:
    since = log_position(server)
    big = request_head("GET", "/healthz", "X-Big: " + "a" * (2 * MAX_HEADER_BYTES))
    with bystander(server), attacker(server) as attack:
        assert attack.send(big)
        attack.wait_closed(MARGIN)

    [answer] = parse_answers(attack.received)
    assert_envelope(answer, 431, f"request headers: larger than the limit of {MAX_HEADER_BYTES}")
    wait_for_log(server, since, logger="gong_meetings.access", status=431)


def test_oversized_headers_trickled_get_431_before_the_header_timeout(server: Server) -> None:
    since = log_position(server)
    # Never finished: only the size limit can stop it before the header timeout.
    pieces = [request_head("GET", "/healthz")[:-2]] + [b"X-Pad: " + b"a" * 1000 + b"\r\n"] * 20
    with bystander(server), attacker(server) as attack:
        attack.trickle(pieces, 0.05, HEADER_TIMEOUT + MARGIN)
        took = attack.wait_closed(HEADER_TIMEOUT + MARGIN)

    assert MAX_HEADER_BYTES < attack.sent < sum(map(len, pieces)), attack.sent
    assert took < HEADER_TIMEOUT + MARGIN, took
    [answer] = parse_answers(attack.received)  # 431, not 408: the limit cut it off
    message = f"request headers: larger than the limit of {MAX_HEADER_BYTES} bytes"
    assert_envelope(answer, 431, message)
    assert_refusal_logged(server, since, 431, message)


# --- bodies over the limit ---------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_body_over_the_limit_gets_413_without_being_read_in_full(
    server: Server, basic: str, framing: str
) -> None:
    since = log_position(server)
    if framing == "chunked":  # no Content-Length: the size shows only while reading
        declared = "Transfer-Encoding: chunked"
        piece = chunk(b" " * 65536)
    else:
        declared = f"Content-Length: {FLOOD_BYTES}"
        piece = b" " * 65536
    head = request_head(
        "POST",
        "/v2/meetings",
        f"Authorization: {basic}",
        "Content-Type: application/json",
        declared,
    )
    with bystander(server), attacker(server) as attack:
        attack.flood(head, piece, FLOOD_BYTES)
        attack.wait_closed(MARGIN)

    # The server answered and closed long before the attacker got through its 20 MB.
    assert attack.sent < FLOOD_BYTES / 2, attack.sent
    [answer] = parse_answers(attack.received)
    assert_envelope(answer, 413, f"body: larger than the limit of {MAX_BODY_BYTES} bytes")
    wait_for_log(server, since, logger="gong_meetings.access", path="/v2/meetings", status=413)


def test_an_endless_body_after_a_401_is_cut_off_by_the_header_timeout(server: Server) -> None:
    since = log_position(server)
    head = request_head(
        "POST", "/v2/meetings", "Content-Type: application/json", "Transfer-Encoding: chunked"
    )
    with bystander(server), attacker(server) as attack:
        assert attack.send(head)
        # It keeps sending after the 401: the rest of a body nobody reads may take only the
        # header timeout from the end of that response.
        attack.trickle(
            endless(chunk(b" " * 16)), 0.05, 2 * (HEADER_TIMEOUT + MARGIN), past_answer=True
        )
        took = attack.wait_closed(HEADER_TIMEOUT + MARGIN)

    assert attack.first_byte_at is not None
    answered = attack.first_byte_at - attack.opened
    assert took - answered < HEADER_TIMEOUT + MARGIN, (answered, took)
    unauthorized, cut_off = parse_answers(attack.received)
    assert unauthorized.status == 401, unauthorized
    assert unauthorized.json()["errors"], unauthorized
    message = f"request: not received in full within {HEADER_TIMEOUT:g} seconds"
    assert_envelope(cut_off, 408, message)
    assert_refusal_logged(server, since, 408, message)


def test_a_client_hanging_up_mid_body_is_not_a_server_error(server: Server, basic: str) -> None:
    """A trickler that gives up before the body timeout: the server drops the request
    quietly; it is the client's doing, not an unhandled error or a 500."""
    since = log_position(server)
    head = request_head(
        "POST",
        "/v2/meetings",
        f"Authorization: {basic}",
        "Content-Type: application/json",
        "Content-Length: 1000",
    )
    with bystander(server), attacker(server) as attack:
        assert attack.send(head + b'{"title"')
        attack.trickle(endless(b" "), 0.1, BODY_TIMEOUT / 3)
        assert not attack.ended.is_set(), attack.received  # still waiting for the body
    # Our side is closed now; the server notices, gives the request up and logs it (or not).
    with suppress(AssertionError):
        wait_for_log(server, since, logger="gong_meetings.access", method="POST")

    logged = [json.loads(line) for line in server.stderr()[since:].splitlines()]
    errors = [r for r in logged if r["level"] == "ERROR" or "exc_info" in r]
    assert errors == [], errors
    server_errors = [r for r in logged if r.get("status", 0) >= 500]
    assert server_errors == [], server_errors
