"""A real HTTP server on a free loopback port, for clients that need one (tritonclient, load tools)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


@contextmanager
def serve(app: FastAPI, start_timeout: float = 30.0) -> Iterator[LiveServer]:
    """Run ``app`` (lifespan included) under uvicorn in a thread until the block ends."""
    # Binding here, not in uvicorn, means the port is ours before the server starts: no race for it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
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
