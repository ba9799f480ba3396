"""The prediction lane served by the HTTP protocol itself (app/http_protocol.py), against a real server.

Each answer is compared with the ASGI way's: a query string (``?version=1``, the tiny repository's
default version) sends the same request through uvicorn's cycle and the FastAPI routes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from conftest import digit_pixels, encode_image, served_settings
from live_server import LiveServer, serve

from app.api.routes import predict
from app.http_protocol import GuardedHttpToolsProtocol
from app.main import create_app

FEATURES = b'{"features": [4.0, 3.0]}'
PIXELS = json.dumps({"pixels": digit_pixels().tolist()}).encode()
JSON = "application/json"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(served_settings(tmp_path_factory.mktemp("checkpoints")))


@pytest.fixture(scope="module")
def server(app) -> Iterator[LiveServer]:
    with serve(app, http=GuardedHttpToolsProtocol) as live:
        yield live


@pytest.fixture
def served_by_front(app, monkeypatch) -> list[str]:
    """The paths the front served (not the ASGI way), in order."""
    lane, served = app.state.prediction_lane, []
    serve_in_lane = lane.serve

    async def spy(scope, match, body, respond):
        served.append(scope["path"])
        await serve_in_lane(scope, match, body, respond)

    monkeypatch.setattr(lane, "serve", spy)
    return served


def _request(
    path: str, body: bytes, content_type: str = JSON, *, version: str = "1.1", extra: str = ""
) -> bytes:
    head = f"POST {path} HTTP/{version}\r\nHost: x\r\nContent-Type: {content_type}\r\n{extra}"
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read_answer(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[bytes, bytes], bytes]:
    """One answer from ``sock`` (``buffer`` keeps what came after it): status, headers, body."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before an answer"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    length = int(headers[b"content-length"])
    while len(rest) < length:
        rest += sock.recv(65536)
    buffer[:] = rest[length:]
    return int(lines[0].split(b" ")[1]), headers, rest[:length]


def _ask(server: LiveServer, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        return _read_answer(sock, bytearray())


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


PNG = encode_image(digit_pixels())
MULTIPART = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
    b"Content-Type: image/png\r\n\r\n" + PNG + b"\r\n--b--\r\n"
)
CASES = {
    "logistic": ("/predict/logistic", FEATURES, JSON),
    "logistic batch": ("/predict/logistic", b'{"instances": [{"x1": 1, "x2": 2}, [3, 4]]}', JSON),
    "not JSON": ("/predict/logistic", b"{nope", JSON),
    "empty body": ("/predict/logistic", b"", JSON),
    "not sent as JSON": ("/predict/logistic", FEATURES, "text/plain"),
    "invalid features": ("/predict/logistic", b'{"features": ["a", 2]}', JSON),
    "unknown model": ("/predict/nope", FEATURES, JSON),
    "digit as raw PNG": ("/predict/mnist", PNG, "image/png"),
    "digit in multipart": ("/predict/mnist", MULTIPART, "multipart/form-data; boundary=b"),
    "truncated PNG": ("/predict/mnist", PNG[:40], "image/png"),
    "multipart without a file": ("/predict/mnist", b"--b--\r\n", "multipart/form-data; boundary=b"),
    "pixels": ("/predict/mnist/pixels", PIXELS, JSON),
    "pixels of a logistic model": ("/predict/logistic/pixels", PIXELS, JSON),
}


@pytest.mark.parametrize("case", CASES)
def test_front_answers_as_the_asgi_way(server, served_by_front, case):
    path, body, content_type = CASES[case]
    front = _ask(server, _request(path, body, content_type))
    routed = _ask(server, _request(path + "?version=1", body, content_type))
    assert served_by_front == [path]
    for _status, headers, _ in (front, routed):
        del headers[b"date"], headers[b"x-request-id"]
    assert front == routed


def test_front_keeps_the_connection_for_the_next_request(server, served_by_front):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        buffer = bytearray()
        for _ in range(3):
            sock.sendall(_request("/predict/logistic", FEATURES))
            status, headers, _ = _read_answer(sock, buffer)
            assert (status, b"connection" in headers) == (200, False)
    assert len(served_by_front) == 3


def test_front_answers_pipelined_requests_in_order(server, served_by_front):
    requests = [
        _request("/predict/logistic", FEATURES),
        _request("/predict/nope", FEATURES),
        b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n",
        _request("/predict/mnist/pixels", PIXELS),
    ]
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"".join(requests))
        buffer = bytearray()
        answers = [_read_answer(sock, buffer) for _ in requests]
    assert [(status, json.loads(body)) for status, _, body in answers[1:3]] == [
        (404, {"detail": "unknown model 'nope'; available: logistic, mnist"}),
        (200, {"status": "alive"}),
    ]
    assert [json.loads(answers[i][2])["model"]["name"] for i in (0, 3)] == ["logistic", "mnist"]
    assert served_by_front[0] == "/predict/logistic"  # the rest queue behind it, uvicorn's way


@pytest.mark.parametrize(
    ("version", "extra"), [("1.0", ""), ("1.1", "Connection: close\r\n")], ids=["HTTP/1.0", "asked"]
)
def test_front_closes_the_connection_when_it_ends(server, served_by_front, version, extra):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(_request("/predict/logistic", FEATURES, version=version, extra=extra))
        status, headers, _ = _read_answer(sock, bytearray())
        assert (status, headers[b"connection"]) == (200, b"close")
        assert _closed(sock)
    assert served_by_front == ["/predict/logistic"]


def test_front_echoes_the_request_id(server, served_by_front):
    status, headers, _ = _ask(
        server, _request("/predict/logistic", FEATURES, extra="X-Request-ID: abc-1\r\n")
    )
    assert (status, headers[b"x-request-id"]) == (200, b"abc-1")


def test_front_leaves_a_chunked_body_to_the_asgi_way(server, served_by_front):
    request = (
        b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(FEATURES), FEATURES)
    )
    assert _ask(server, request)[0] == 200
    assert served_by_front == []


def test_front_leaves_a_body_over_its_buffer_to_the_asgi_way(server, served_by_front):
    body = FEATURES + b" " * 70_000  # within the JSON limit, over what the front buffers
    status, _, answer = _ask(server, _request("/predict/logistic", body))
    assert (status, json.loads(answer)["predictions"][0]["label"]) == (200, 1)
    assert served_by_front == []


def test_front_answers_an_unhandled_error_with_a_logged_500(server, served_by_front, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(predict, "predict_answer", broken)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        buffer = bytearray()
        sock.sendall(_request("/predict/logistic", FEATURES))
        status, headers, body = _read_answer(sock, buffer)
        assert (status, json.loads(body)) == (500, {"detail": "internal server error"})
        assert b"x-request-id" in headers
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_answer(sock, buffer)[0] == 200  # the connection is still usable
    assert "unhandled error on POST /predict/logistic" in caplog.text


def test_front_leaves_an_untrusted_host_to_the_asgi_way(tmp_path):
    settings = served_settings(tmp_path).model_copy(update={"trusted_hosts": ["good.example"]})
    with serve(create_app(settings), http=GuardedHttpToolsProtocol) as live:
        status, _, body = _ask(live, _request("/predict/logistic", FEATURES))
        good = _ask(live, _request("/predict/logistic", FEATURES).replace(b"Host: x", b"Host: good.example"))
    assert (status, json.loads(body)) == (
        400,
        {"detail": "the Host header names a host this service does not answer to"},
    )
    assert good[0] == 200


def test_front_finishes_a_request_in_flight_on_shutdown(tmp_path):
    app = create_app(served_settings(tmp_path))
    lane = app.state.prediction_lane
    serve_in_lane, started = lane.serve, threading.Event()

    async def slow(scope, match, body, respond):
        started.set()
        await asyncio.sleep(0.5)
        await serve_in_lane(scope, match, body, respond)

    lane.serve = slow
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http=GuardedHttpToolsProtocol))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    with socket.create_connection(sock.getsockname(), timeout=10) as client:
        client.sendall(_request("/predict/logistic", FEATURES))
        assert started.wait(5)
        server.should_exit = True
        status, headers, _ = _read_answer(client, bytearray())
        assert (status, headers[b"connection"]) == (200, b"close")
        assert _closed(client)
    thread.join(timeout=10)
    assert not thread.is_alive()
