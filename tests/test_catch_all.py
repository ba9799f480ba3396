"""An exception no handler takes: a JSON 500 with the request id, one log record, a usable connection."""

import json
import logging
import socket

import pytest
from fastapi.testclient import TestClient
from live_server import serve

from app.main import create_app
from app.observability.logs import RequestIdFilter


@pytest.fixture
def failing_app(settings):
    app = create_app(settings)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("a bug")

    return app


def test_unhandled_error_is_a_json_500_with_the_request_id(failing_app):
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert (response.status_code, response.json()) == (500, {"detail": "internal server error"})
    assert response.headers["x-request-id"] == "req-500"


def test_unhandled_error_is_logged_once_under_the_request_id(failing_app, caplog):
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        client.get("/boom", headers={"X-Request-ID": "req-500"})
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [(r.getMessage(), r.request_id) for r in tracebacks] == [
        ("unhandled error on GET /boom", "req-500")
    ]
    [access] = [r for r in caplog.records if r.name == "app.access"]
    assert (access.status, access.request_id) == (500, "req-500")


def test_unhandled_error_leaves_the_keep_alive_connection_usable(failing_app):
    request = b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n"
    with serve(failing_app) as server, socket.create_connection((server.host, server.port)) as sock:
        sock.settimeout(5)
        sock.sendall(request % b"/boom")
        first = _read_response(sock)
        sock.sendall(request % b"/health/live")
        second = _read_response(sock)
    assert first.startswith(b"HTTP/1.1 500 ")
    assert b"connection: close" not in first.lower()
    assert second.startswith(b"HTTP/1.1 200 ")
    assert json.loads(second.partition(b"\r\n\r\n")[2])["status"] == "alive"


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(v)
        for k, _, v in (h.partition(b": ") for h in head.split(b"\r\n"))
        if k.lower() == b"content-length"
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture(autouse=True)
def _info_logs(caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())  # stamps records as the service's log handler does
