"""The floor: our own prediction with no framework around it, to show how far a leaner front end could go.

    python -m benchmarks.peers.floor_server --port 8002 [--front bare]

A bare ASGI app under the same uvicorn and HTTP protocol as ``digit-serve`` (app/http_protocol.py), calling
the same servables, request schemas and response models, one log line per request. Left out: FastAPI and
Starlette, every middleware (request ids, metrics, trusted hosts, body limits), the API key, the error
answers and the limits. Not a server to deploy; a bound: no fast lane inside the service can serve a
prediction for less than this costs. It reads the same checkpoints as the naive peer
(SERVE_MNIST_CHECKPOINT, SERVE_LOGISTIC_CHECKPOINT) and serves ``/predict/logistic`` (JSON) and
``/predict/mnist`` (the PNG as the raw body).

``--front bare`` leaves out uvicorn's per-request work as well (its scope, request-response cycle, ASGI
messages, header checks and timers): the same answers from a bare httptools protocol, one task and one
write per request, keep-alive and nothing else (no pipelining, limits or timeouts). It bounds what an HTTP
front of our own could give.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

import httptools
import torch
import uvicorn
import uvloop

import models
from app.core.servables import DigitServable, LogisticServable
from app.http_protocol import GuardedHttpToolsProtocol
from app.imaging import read_digits
from app.schemas.predict import (
    DigitPrediction,
    DigitResponse,
    LogisticPrediction,
    LogisticRequest,
    LogisticResponse,
    ModelRef,
)

torch.set_num_threads(1)  # as digit-serve runs
logistic = LogisticServable("logistic", "1", models.load(os.environ["SERVE_LOGISTIC_CHECKPOINT"]))
mnist = DigitServable("mnist", "1", models.load(os.environ["SERVE_MNIST_CHECKPOINT"]))
log = logging.getLogger("floor.access")
_JSON = [(b"content-type", b"application/json")]


def _ref(servable) -> ModelRef:
    return ModelRef(name=servable.name, version=servable.version, architecture=servable.architecture)


async def _answer(path: str, body: bytes) -> bytes:
    if path == "/predict/logistic":
        rows = LogisticRequest.model_validate_json(body).batch()
        probabilities, labels = logistic.infer(logistic.prepare(rows))
        predictions = [
            LogisticPrediction(label=y, probability=p) for y, p in zip(labels, probabilities, strict=True)
        ]
        response = LogisticResponse(model=_ref(logistic), predictions=predictions)
    else:  # /predict/mnist
        size = mnist.config.image_size
        files = [("body", body)]
        pixels = await read_digits(
            files, size=size, max_pixels=10**7, invert="auto", background_is_dark=True, fit="auto"
        )
        digits, probabilities = mnist.infer(mnist.prepare(pixels))
        predictions = [
            DigitPrediction(digit=d, probabilities=p) for d, p in zip(digits, probabilities, strict=True)
        ]
        response = DigitResponse(model=_ref(mnist), predictions=predictions)
    return response.__pydantic_serializer__.to_json(response, exclude_none=True)


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    started = time.perf_counter()
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    path = scope["path"]
    content = b'"ready"' if path == "/health/ready" else await _answer(path, body)
    headers = [*_JSON, (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})
    log.info("%s %s 200 %.3fms", scope["method"], path, (time.perf_counter() - started) * 1000)


class BareProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive on httptools and nothing more: each request's answer in one task, one write."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.tasks: set[asyncio.Task] = set()  # held, so that none is collected while it waits
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url, self.body = b"", b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        task = asyncio.get_running_loop().create_task(self._respond(method, self.url, self.body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _respond(self, method: str, url: bytes, body: bytes) -> None:
        started = time.perf_counter()
        path = httptools.parse_url(url).path.decode()
        content = b'"ready"' if path == "/health/ready" else await _answer(path, body)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        self.transport.write(head % len(content) + content)
        log.info("%s %s 200 %.3fms", method, path, (time.perf_counter() - started) * 1000)


async def _serve_bare(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(BareProtocol, "127.0.0.1", port)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--front", choices=["uvicorn", "bare"], default="uvicorn")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    if args.front == "bare":
        uvloop.run(_serve_bare(args.port))
    else:
        uvicorn.run(app, port=args.port, http=GuardedHttpToolsProtocol, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
