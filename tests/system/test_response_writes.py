"""A response leaves the server in one write, on a real socket.

uvicorn writes a response's head and then its body; the server joins the writes of one
event-loop turn (server/protocol.py), because each write costs a send and a wake-up of the
client. The client's kernel counts the data segments it received (TCP_INFO), so a response
sent in two writes shows as two.
"""

import socket
import struct
import sys
import time
from collections.abc import Iterator

import pytest

from tests.system.live import ROOMY_LIMITS, SCRIPT, Server, admin, running_server, server_env
from tests.system.test_hostile_traffic import Answer, parse_answers, request_head

pytestmark = [
    pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}"),
    pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's struct tcp_info"),
]

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, a __u32 after 152 bytes (Linux 4.6+).
_DATA_SEGMENTS_IN = struct.Struct("=I")
_DATA_SEGMENTS_IN_OFFSET = 152
ANSWER_DEADLINE_SECONDS = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("writes")
    env = server_env(f"sqlite:///{root}/x.db")
    with running_server(root, env, root / "logs") as started:
        admin(env, "workspaces", "update", "default", *ROOMY_LIMITS)
        yield started


@pytest.fixture
def basic(server: Server) -> str:
    return "Authorization: " + server.basic()


def data_segments_received(connection: socket.socket) -> int:
    info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    (count,) = _DATA_SEGMENTS_IN.unpack_from(info, _DATA_SEGMENTS_IN_OFFSET)
    return int(count)


def exchange(connection: socket.socket, data: bytes, wanted: int) -> tuple[list[Answer], int]:
    """Send `data`; the first `wanted` answers, and how many data segments brought them."""
    before = data_segments_received(connection)
    connection.sendall(data)
    received = b""
    deadline = time.monotonic() + ANSWER_DEADLINE_SECONDS
    while True:
        try:
            if len(parse_answers(received)) == wanted:
                break
        except (AssertionError, KeyError, ValueError):  # an answer is not complete yet
            pass
        assert time.monotonic() < deadline, received
        more = connection.recv(65536)
        assert more, received
        received += more
    return parse_answers(received), data_segments_received(connection) - before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/healthz", 200), ("GET", "/v2/meetings", 200), ("GET", "/v2/nowhere", 404)],
)
def test_an_answer_arrives_in_one_segment(
    server: Server, basic: str, method: str, path: str, status: int
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        for _ in range(3):  # and again on the same connection
            [answer], segments = exchange(connection, request_head(method, path, basic), 1)
            assert answer.status == status, answer
            assert answer.body.startswith(b"{"), answer
            assert segments == 1, f"an answer of {len(answer.body)} bytes came in {segments}"


def test_pipelined_requests_are_all_answered_in_order(server: Server, basic: str) -> None:
    paths = ["/healthz", "/v2/nowhere", "/v2/meetings", "/healthz"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        pipelined = b"".join(request_head("GET", path, basic) for path in paths)
        answers, segments = exchange(connection, pipelined, len(paths))
    assert [answer.status for answer in answers] == [200, 404, 200, 200]
    assert segments <= len(paths)


def test_an_answer_before_closing_is_sent_whole(server: Server, basic: str) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        closing = request_head("GET", "/v2/meetings", basic, "Connection: close")
        [answer], _ = exchange(connection, closing, 1)
        assert answer.status == 200, answer
        assert answer.headers["connection"] == "close"
        assert connection.recv(65536) == b""  # and then the server closed the connection
