"""The body limit against a real uvicorn server: a 500 MB body is refused early and memory stays flat."""

import select
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import serve_process

BODY_BYTES = 500 * 1024 * 1024
CHUNK = b"7" * (1024 * 1024)
LIMIT = 8 * 1024 * 1024


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def server(serve_env, tmp_path) -> Iterator[tuple[subprocess.Popen, int]]:
    env = {
        **serve_env,
        "SERVE_MAX_REQUEST_BYTES": str(LIMIT),
        "SERVE_MAX_JSON_BYTES": str(LIMIT),
        "SERVE_ACCESS_LOG": "false",
    }
    with serve_process(env, tmp_path / "serve.log") as (process, port):
        yield process, port


def send_until_answered(port: int, head: bytes, frame) -> bytes:
    """Send ``head``, then up to BODY_BYTES of ``frame(chunk)`` until the server answers; its answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sent, pending = 0, memoryview(b"")
        while sent < BODY_BYTES:
            readable, _, _ = select.select([sock], [sock], [], 10)
            if readable:
                break
            if not pending:
                pending = memoryview(frame(CHUNK))
            try:
                written = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            pending, sent = pending[written:], sent + written
        assert sent < BODY_BYTES, "the server read the whole body"
        sock.settimeout(10)
        return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (headers and Content-Length body), read before the server resets the socket."""
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < body_length(answer):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {answer!r}"
        answer += chunk
    return answer


def body_length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value)
    return 0


def test_server_refuses_500mb_chunked_body_with_bounded_memory(server):
    process, port = server
    peak_before = peak_rss_bytes(process.pid)
    head = (
        b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = send_until_answered(port, head, lambda chunk: b"%x\r\n%s\r\n" % (len(chunk), chunk))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"detail": "request body exceeds the limit of 8388608 bytes"}')
    assert peak_rss_bytes(process.pid) - peak_before < 50 * 1024 * 1024
    assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200


def test_server_refuses_500mb_declared_body_with_bounded_memory(server):
    process, port = server
    peak_before = peak_rss_bytes(process.pid)
    head = (
        b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % BODY_BYTES
    )
    answer = send_until_answered(port, head, lambda chunk: chunk)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(
        b'{"detail": "request body of 524288000 bytes exceeds the limit of 8388608 bytes"}'
    )
    assert peak_rss_bytes(process.pid) - peak_before < 50 * 1024 * 1024
    assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
