"""One pure ASGI middleware for what every request leaves behind: a request id, metrics, a log line.

``RequestObserver`` does that work, begun and ended around a request; the middleware calls it, and so
does the HTTP front of the prediction lane (app/http_protocol.py), which answers without ASGI.

It is also the service's catch-all: an exception no handler took becomes a JSON 500 here, inside the id
and the log, so the 500 carries X-Request-ID, its traceback is logged once under that id, and the
keep-alive connection stays usable (Starlette's own catch-all re-raises to the server, which logs the
traceback again and drops the connection).

Pure ASGI rather than BaseHTTPMiddleware, which runs the app in a separate task and costs a large share
of a fast endpoint's throughput. Per request this does a header scan, two clock reads, a dict look-up
for the label values, plain-int counts (see CounterTally and HistogramTally) and one log line (see
RequestLine).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from contextvars import Token
from typing import NamedTuple

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import RequestLine, request_id_var
from app.observability.metrics import HTTP_REQUEST_SECONDS, REQUEST_COUNTS, REQUESTS_IN_FLIGHT

access_log = logging.getLogger("app.access")
log = logging.getLogger(__name__)
_ACCESS_LINE = "%s %s %d %.3fms"
_access_line = RequestLine(access_log, _ACCESS_LINE)

REQUEST_ID_HEADER = b"x-request-id"
# A client's id is kept only when it is short and plain, so it cannot forge log lines or bloat them.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"  # one label for every path no route serves, to bound the series count
INTERNAL_ERROR = json.dumps({"detail": "internal server error"}).encode()
INTERNAL_ERROR_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(INTERNAL_ERROR)),
)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client's X-Request-ID when it is safe to echo, else a new random one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _SAFE_REQUEST_ID.fullmatch(value):
                return value
            break
    # An id, not a secret: 128 random bits without uuid4's system call per request.
    return b"%032x" % random.getrandbits(128)


def route_template(scope: Scope) -> str:
    """The path template of the route that served the request (``/models/{name}``), set by the router."""
    return getattr(scope.get("route"), "path", UNMATCHED_ROUTE)


class RequestObserver:
    """A request's id, metrics and log line: ``begin`` when it arrives, ``end`` once it is answered."""

    def __init__(self, *, access_log: bool = True, debug: bool = False) -> None:
        self.log_requests = access_log
        self.debug = debug
        self._series: dict[tuple[str, str, int], tuple] = {}  # bounded: methods x routes x statuses

    def begin(self, headers: list[tuple[bytes, bytes]]) -> Observation:
        started = time.perf_counter()
        request_id = request_id_from(headers)  # bytes, for the response header
        request_id_text = request_id.decode()
        REQUESTS_IN_FLIGHT.value += 1
        return Observation(started, request_id, request_id_text, request_id_var.set(request_id_text))

    def end(self, observation: Observation, scope: Scope, status: int) -> None:
        """Counts, times and logs the request; ``status`` 0: nothing was answered (the server sends 500)."""
        REQUESTS_IN_FLIGHT.value -= 1
        elapsed = time.perf_counter() - observation.started
        status = status or 500
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        route = route_template(scope)
        labels, latency = self._series_for(method, route, status)
        REQUEST_COUNTS.counts[labels] += 1
        latency.observe(elapsed)
        if self.log_requests:
            self._log(scope, observation.request_id_text, method, route, status, elapsed)
        request_id_var.reset(observation.token)

    def _series_for(self, method: str, route: str, status: int) -> tuple:
        """The label values and the latency histogram's tally for one kind of request, made once."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = self._series[key] = labels, HTTP_REQUEST_SECONDS.labels(*labels)
        return series

    def _log(
        self, scope: Scope, request_id: str, method: str, route: str, status: int, elapsed: float
    ) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        duration_ms = round(elapsed * 1000, 3)
        path = scope["path"]
        client = scope.get("client")
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "client": client[0] if client else None,
        }
        if self.debug and scope.get("query_string"):
            fields["query"] = scope["query_string"].decode("latin-1")
        _access_line((method, path, status, duration_ms), request_id, fields)


class Observation(NamedTuple):
    started: float
    request_id: bytes
    request_id_text: str
    token: Token


def log_unhandled(scope: Scope, exc: Exception) -> None:
    log.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=exc)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, observer: RequestObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observation = self.observer.begin(scope["headers"])
        request_id = observation.request_id
        status = 0  # until the app answers

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as exc:
            log_unhandled(scope, exc)
            if status:
                # The answer is half sent: returning without finishing it makes the server close the
                # connection, as it must, and say so in one line; the traceback is above.
                return
            status = 500
            await send_with_request_id(_internal_error_start())
            await send({"type": "http.response.body", "body": INTERNAL_ERROR})
        finally:
            self.observer.end(observation, scope, status)


def _internal_error_start() -> Message:
    return {"type": "http.response.start", "status": 500, "headers": INTERNAL_ERROR_HEADERS}
