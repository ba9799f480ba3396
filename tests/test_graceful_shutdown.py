"""A real `digit-serve` process stopped with SIGTERM: requests in flight finish, new connections are refused.

Uploads that announce `Expect: 100-continue` are known to be in flight once uvicorn answers
`100 Continue` (the app has started reading the body); their bodies are sent only after SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_server import serve_process

GRACEFUL_TIMEOUT_SECONDS = 5
BOUNDARY = "graceful-shutdown-test"


@pytest.fixture
def server(serve_env: dict[str, str], tmp_path: Path) -> Iterator[tuple]:
    """A `digit-serve` process on a free port with the tiny checkpoints; yields (process, port)."""
    env = {**serve_env, "SERVE_GRACEFUL_TIMEOUT_SECONDS": str(GRACEFUL_TIMEOUT_SECONDS)}
    with serve_process(env, tmp_path / "serve.log") as (process, port):
        yield process, port


def multipart_body(png: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def start_upload(port: int, body: bytes) -> socket.socket:
    """Send an upload's headers and wait for `100 Continue`: from then on the request is in flight."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        (
            "POST /predict/mnist HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        ).encode()
    )
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        interim += sock.recv(1)
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    return sock


def finish_upload(sock: socket.socket, body: bytes) -> tuple[int, dict]:
    """Send the body slowly, in two halves, and read the whole response (the server then closes)."""
    with sock:
        half = len(body) // 2
        sock.sendall(body[:half])
        time.sleep(0.2)
        sock.sendall(body[half:])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def logistic_request(port: int) -> str:
    """One request on a fresh connection: "ok", "refused" (never accepted), or what went wrong."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            "/predict/logistic",
            body=json.dumps({"features": [6.0, 4.0]}),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return "ok" if response.status == 200 else f"status {response.status}"
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        # Connected (the kernel completed the handshake) but closed before uvicorn read the request:
        # the listening socket had just closed. The request never reached the app.
        return "refused"
    finally:
        connection.close()


def steady_stream(port: int, stop: threading.Event, outcomes: Counter) -> Callable[[], None]:
    def run() -> None:
        while not stop.is_set():
            outcomes[logistic_request(port)] += 1
            time.sleep(0.01)

    return run


def wait_refused(port: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def test_serve_sigterm_drains_requests_in_flight(server: tuple, png_digit: Callable[..., bytes]) -> None:
    process, port = server
    body = multipart_body(png_digit())
    uploads = [start_upload(port, body) for _ in range(3)]
    stop, outcomes = threading.Event(), Counter()
    clients = [threading.Thread(target=steady_stream(port, stop, outcomes)) for _ in range(3)]
    for client in clients:
        client.start()
    time.sleep(0.3)

    process.send_signal(signal.SIGTERM)
    refused = wait_refused(port)
    results = [finish_upload(sock, body) for sock in uploads]
    stop.set()
    for client in clients:
        client.join()

    assert refused, "new connections were still accepted after SIGTERM"
    assert [status for status, _ in results] == [200, 200, 200]
    assert all(len(payload["predictions"]) == 1 for _, payload in results)
    assert outcomes["ok"] > 0
    assert set(outcomes) <= {"ok", "refused"}, outcomes
    assert process.wait(timeout=GRACEFUL_TIMEOUT_SECONDS + 5) == 0
