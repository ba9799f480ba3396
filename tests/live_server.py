"""Real HTTP servers on free loopback ports, for tests that need more than an in-process client.

``serve(app)`` runs an app under uvicorn in a thread (tritonclient, the browser). ``serve_process(env)``
runs the ``digit-serve`` command as a process of its own (signals, memory, the command's own settings).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int

    @property
    def address(self) -> str:
        """host:port, as tritonclient takes it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(app: FastAPI, start_timeout: float = 30.0, http: type | str = "auto") -> Iterator[LiveServer]:
    """Run ``app`` (lifespan included) under uvicorn in a thread until the block ends.

    ``http``: uvicorn's HTTP protocol class, e.g. one of app/http_protocol.py with limits of a test's own.
    """
    # Binding here, not in uvicorn, means the port is ours before the server starts: no race for it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http=http))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(*sock.getsockname())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_process(
    env: dict[str, str], log: Path, start_timeout: float = 60.0
) -> Iterator[tuple[subprocess.Popen, int]]:
    """``python -m app.cli`` on a free port (gRPC too) with ``env`` added to ours, output to ``log``.

    Yields (process, port) once /health/ready answers 200. At the end, whatever still runs of it, uvicorn's
    worker processes included (its own session), gets SIGTERM, then SIGKILL after 15 s.
    """
    port = free_port()
    # gRPC on a free port too, unless the test chose one: 8001 may be taken by another server here.
    env = {"SERVE_GRPC_PORT": str(free_port()), **env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--port", str(port)],
            env={**os.environ, "SERVE_DEVICE": "cpu", **env},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + start_timeout
        while not _ready(port):
            if process.poll() is not None:
                raise RuntimeError(
                    f"serve exited with {process.returncode} during start-up:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve not ready within {start_timeout} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield process, port
    finally:
        _stop_session(process)


def _stop_session(process: subprocess.Popen) -> None:
    """SIGTERM to the server's whole session, SIGKILL if it is not gone in 15 s: no worker outlives a test."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes of a ``serve_process`` (its children, less the resource tracker)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return [int(pid) for pid in children if b"multiprocessing.resource_tracker" not in _cmdline(int(pid))]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
