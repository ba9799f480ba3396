"""Connection limits (app/http_protocol.py) against a real server: timeouts, header caps, unread bodies."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import served_settings
from live_server import LiveServer, serve

from app.http_protocol import ConnectionLimits, GuardedHttpToolsProtocol
from app.main import create_app

LIMITS = ConnectionLimits(
    header_timeout=1.0,
    body_timeout=1.0,
    min_body_rate=1000.0,
    max_header_bytes=4096,
    max_headers=20,
    max_connections=50,
    max_requests=8,
    max_body_memory=1_000_000,
    linger=0.5,
)


class LimitedProtocol(GuardedHttpToolsProtocol):
    limits = LIMITS


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    app = create_app(served_settings(tmp_path_factory.mktemp("checkpoints")))
    with serve(app, http=LimitedProtocol) as live:
        yield live


def _connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port))
    sock.settimeout(10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _status_and_headers(response: bytes) -> tuple[int, bytes]:
    head = response.partition(b"\r\n\r\n")[0]
    return int(head.split(b" ", 2)[1]), head.lower()


def test_headers_over_the_byte_cap_are_431(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        status, head = _status_and_headers(_read_all(sock))
    assert status == 431
    assert b"connection: close" in head


def test_one_header_of_megabytes_is_431(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(OSError):  # the server drops the rest, and closes after its linger
            for _ in range(24 * 16):
                sock.sendall(b"a" * 65536)
        assert _status_and_headers(sock.recv(65536))[0] == 431


def test_too_many_header_lines_are_431(server):
    lines = b"".join(b"X-H%d: 1\r\n" % i for i in range(30))
    with _connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        assert _status_and_headers(_read_all(sock))[0] == 431


def test_headers_that_never_finish_are_408(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        response = _read_all(sock)
    assert _status_and_headers(response)[0] == 408
    assert 0.9 < time.monotonic() - started < 5


def test_connection_that_sends_nothing_is_closed(server):
    with _connect(server) as sock:
        started = time.monotonic()
        assert _read_all(sock) == b""
    assert time.monotonic() - started < 5


def test_body_that_stalls_is_408(server):
    with _connect(server) as sock:
        sock.sendall(
            b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        response = _read_all(sock)
    assert _status_and_headers(response)[0] == 408
    assert b"stalled" in response


def test_body_trickling_below_the_minimum_rate_is_408(server):
    with _connect(server) as sock:
        sock.sendall(
            b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not select.select([sock], [], [], 0.2)[0]:
            sock.sendall(b" ")  # 5 bytes a second
        response = _read_all(sock)
    assert _status_and_headers(response)[0] == 408
    assert b"slower than 1000 bytes a second" in response


def test_answer_before_the_body_is_read_closes_the_connection(server):
    # The multipart parser refuses the first part's header; the 2 GB announced are never read.
    with _connect(server) as sock:
        sock.sendall(
            b"POST /predict/mnist HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
            b'30\r\n--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n'
        )
        sent = 0
        with contextlib.suppress(OSError):  # reset once the linger is over
            while sent < 2**31:
                sock.sendall(b"10000\r\n" + b"a" * 65536 + b"\r\n")
                sent += 65536
        response = sock.recv(65536)
    status, head = _status_and_headers(response)
    assert status == 400
    assert b"connection: close" in head
    assert sent < 64 * 2**20


def test_answer_to_a_complete_request_keeps_the_connection(server):
    with _connect(server) as sock:
        for _ in range(2):
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            response = sock.recv(65536)
            assert _status_and_headers(response)[0] == 200


def test_bodies_in_flight_over_the_memory_limit_are_503(server):
    # LIMITS allow 1 MB of unfinished bodies per worker: a second body of 600 KB held open crosses it.
    head = (
        b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n"
        b"Content-Type: application/json\r\n\r\n"
    )
    with _connect(server) as first, _connect(server) as second:
        first.sendall(head + b" " * 600_000)
        time.sleep(0.3)
        second.sendall(head)
        with contextlib.suppress(OSError):
            second.sendall(b" " * 600_000)
        response = _read_all(second)
    assert _status_and_headers(response)[0] == 503
    assert b"request bodies still arriving hold this worker's limit of 1000000 bytes" in response


def test_prediction_lane_bodies_in_flight_count_toward_the_memory_limit(server):
    # Bodies the protocol gathers for the prediction lane (64 KiB at most each) are held in memory too:
    # 16 of 60 KB fit in LIMITS' 1 MB, the 17th crosses it.
    head = (
        b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Length: 64000\r\n"
        b"Content-Type: application/json\r\n\r\n"
    )
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(_connect(server)) for _ in range(17)]
        for sock in held[:16]:
            sock.sendall(head + b" " * 60_000)
        time.sleep(0.2)
        held[16].sendall(head + b" " * 60_000)
        response = _read_all(held[16])
    assert _status_and_headers(response)[0] == 503
    assert b"request bodies still arriving hold this worker's limit of 1000000 bytes" in response
