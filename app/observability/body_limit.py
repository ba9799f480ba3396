"""Refusing request bodies over a size limit with 413, before they are read or while they stream in.

Image uploads (multipart bodies, or an image as the body) may be as large as a full batch of files; any
other body (JSON, OIP's binary tensors) has a much smaller limit of its own, so that no JSON parse can
stall the worker for long.

A declared ``Content-Length`` over the limit is refused without reading a byte. A chunked body (no
length) is counted as the app reads it; once over the limit, the app sees an error from ``receive``
and whatever it answers is replaced by the 413, unless its response has already begun. uvicorn stops
reading from the socket while the app is not receiving, so memory stays bounded either way.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    """Raised from ``receive`` into the app once the body crosses the limit."""


def too_large_detail(declared_size: int | None, limit: int) -> str:
    size = f"of {declared_size} bytes " if declared_size is not None else ""
    return f"request body {size}exceeds the limit of {limit} bytes"


def _too_large_response(declared_size: int | None, limit: int) -> tuple[Message, Message]:
    body = json.dumps({"detail": too_large_detail(declared_size, limit)})
    start: Message = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is never read: the connection can't be reused
        ],
    }
    return start, {"type": "http.response.body", "body": body.encode()}


@dataclass(frozen=True)
class BodyLimits:
    multipart: int  # image uploads: multipart, or one image as the body (app/uploads.py)
    json: int  # any other body

    def declared(self, headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, int]:
        """The request's Content-Length as sent (None: not declared) and the limit for its content type."""
        length, limit = None, self.json
        for name, value in headers:
            if name == b"content-length":
                length = value
            elif name == b"content-type" and (
                value[:19].lower() == b"multipart/form-data" or value[:6].lower() == b"image/"
            ):
                limit = self.multipart
        return length, limit


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, limit = self.limits.declared(scope["headers"])
        if length is None:
            await _LimitedRequest(self.app, limit, send)(scope, receive)
        elif length.isdigit() and int(length) > limit:
            for message in _too_large_response(int(length), limit):
                await send(message)
        else:  # the server delivers exactly the declared length, so there is nothing left to count
            await self.app(scope, receive, send)


class _LimitedRequest:
    """One request whose body is counted as it is received."""

    def __init__(self, app: ASGIApp, limit: int, send: Send) -> None:
        self.app, self.limit, self.send = app, limit, send
        self.received = 0
        self.exceeded = False
        self.response_started = False

    async def __call__(self, scope: Scope, receive: Receive) -> None:
        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    self.exceeded = True
                    raise BodyTooLargeError
            return message

        with contextlib.suppress(BodyTooLargeError):
            await self.app(scope, counting_receive, self._send)
        if self.exceeded and not self.response_started:
            for message in _too_large_response(None, self.limit):
                await self.send(message)

    async def _send(self, message: Message) -> None:
        if self.exceeded and not self.response_started:
            return  # the app's answer to the error we raised; the 413 goes out instead
        if message["type"] == "http.response.start":
            self.response_started = True
        await self.send(message)
