"""uvicorn's httptools protocol with the limits it lacks: what slow or greedy clients cannot hold.

uvicorn has no header or body read timeout, no cap on header size (httptools buffers a 24 MB header),
and its ``limit_concurrency`` counts idle connections, so 200 that never finish their headers make every
request a 503. Here, per connection:

* the request line and headers must arrive within ``header_timeout`` of the connection opening (or of
  the request's first byte on a kept-alive one), else 408; they may hold at most ``max_header_bytes``
  in ``max_headers`` lines, else 431;
* a body must keep arriving: no gap longer than ``body_timeout``, and, after that much time, at least
  ``min_body_rate`` bytes a second on average, else 408. Time when the app is not reading is not held
  against the client;
* an answer sent while the request body is still arriving closes the connection (the rest is not read),
  after a short linger that drains what is in flight, so the client reads the answer rather than a reset;
* the bodies still arriving, all requests together, may hold at most ``max_body_memory`` bytes of the
  worker's memory; the request whose bytes would cross it gets 503 (uploads held open pinned 17 MB each);
* ``limit_concurrency`` counts requests being worked on, not connections still sending their request;
  those are bounded by ``max_connections``, and by the timeouts above.

A request costs a few counter updates, a clock read and a Python call around each parser callback
more: a few per cent of a small prediction's instructions.

It also serves the app's prediction lane (app/api/fast_lane.py) itself, without ASGI: a plain
prediction request, once its body is in, is answered by one task and written in one write. uvicorn's
request-response cycle, its ASGI messages and the app's middleware stack cost a small prediction more
than its model does. A small stand-in for the cycle (``_LaneExchange``) keeps uvicorn's pipelining,
keep-alive, graceful shutdown and this class's limits working as for any request. Everything else is
uvicorn's own code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr

from app.settings import Settings, get_settings

log = logging.getLogger("app.connections")

_CHECK_EVERY_S = 0.5  # how often a body in flight is checked for its pace
_LINGER_BYTES = 1024 * 1024  # most a lingering connection drops before it closes anyway


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    min_body_rate: float
    max_header_bytes: int
    max_headers: int
    max_connections: int
    max_requests: int  # being worked on at once (SERVE_LIMIT_CONCURRENCY)
    max_body_memory: int  # bytes of request bodies still arriving, all connections together
    linger: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            min_body_rate=settings.min_body_bytes_per_second,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            max_connections=settings.max_connections,
            max_requests=settings.limit_concurrency,
            max_body_memory=settings.body_memory_limit,
            linger=settings.linger_seconds,
        )


class _Refusal(Exception):
    """Raised inside an httptools callback; carries the answer to send once the parser returns."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class _LingeringTransport:
    """The connection's transport, as every part of uvicorn sees it, with ``close`` made to linger."""

    def __init__(self, transport: Any, close: Callable[[], None]) -> None:
        self._transport = transport
        self.write, self.is_closing = transport.write, transport.is_closing  # the hot ones, bound once
        self.close = close

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Read from the settings by a worker's first connection (uvicorn makes the instances); a subclass may
    # set its own (tests/live_server.py).
    limits: ConnectionLimits = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.limits is None:
            type(self).limits = ConnectionLimits.from_settings(get_settings())
        self.limit_concurrency = None  # uvicorn's check counts connections; ours is in on_headers_complete
        self.lane = _prediction_lane_of(self.app)
        state = self.server_state
        if not hasattr(state, "bodies_in_flight"):
            state.bodies_in_flight = 0  # requests whose app has started while their body still arrives
            state.body_bytes_in_flight = 0  # what those bodies have brought so far
        self._head_bytes: int | None = 0  # bytes received since the request began; None in its body
        self._receiving_body = False
        self._in_message = False
        self._timer: Any = None
        self._body_bytes = 0
        self._body_seconds = 0.0  # time spent waiting for a body while the app was reading it
        self._body_last_data = 0.0
        self._lingering = False
        self._lingered_bytes = 0

    # Connections

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(_LingeringTransport(transport, self._close))
        if len(self.connections) > self.limits.max_connections:
            log.warning("refused a connection: the limit of %d is open", self.limits.max_connections)
            self._refuse(503, f"too many connections: at most {self.limits.max_connections} per worker")
            return
        self._arm(self.limits.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._stop_receiving()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # the answer is sent; what the client still sends is dropped until the close
            self._lingered_bytes += len(data)
            if self._lingered_bytes > _LINGER_BYTES:
                self.transport._transport.close()
            return
        self._unset_keepalive_if_required()
        if self._head_bytes is not None:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refusal = exc.__context__
            if isinstance(refusal, _Refusal):
                self._refuse(refusal.status, refusal.detail)
            else:
                log.warning("invalid HTTP request received")
                self.send_400_response("Invalid HTTP request received.")
            return
        # Timers start only for a request still arriving after this read: one whose head and body came
        # in one read, the usual case, costs none.
        if self._head_bytes is not None:
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, f"request line and headers exceed {self.limits.max_header_bytes} bytes")
            elif self._in_message and self._timer is None:
                self._arm(self.limits.header_timeout, self._headers_too_slow)
        elif self._receiving_body and self._timer is None:
            self._body_last_data = self.loop.time()
            self._arm(_CHECK_EVERY_S, self._check_body_pace)
            cycle = self.cycle  # the read that ended the head: the app has not run yet
            if type(cycle) is RequestResponseCycle and "send" not in vars(cycle):
                self.cycle.send = _closing_if_body_unread(self.cycle)

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_message = True

    def on_headers_complete(self) -> None:
        if self._timer is not None:
            self._cancel_timer()
        self._head_bytes = None
        # Checked once the headers are in (httptools hands them over whole): a head still arriving is
        # bounded by the byte count in data_received, and one read holds at most 256 KiB.
        headers = self.headers
        if len(headers) > self.limits.max_headers:
            raise _Refusal(431, f"more than {self.limits.max_headers} header lines")
        head_bytes = len(self.url) + sum(map(len, chain.from_iterable(headers))) + 4 * len(headers)
        if head_bytes > self.limits.max_header_bytes:
            raise _Refusal(431, f"request line and headers exceed {self.limits.max_header_bytes} bytes")
        if len(self.tasks) - self.server_state.bodies_in_flight < self.limits.max_requests:
            if self.lane is not None and self._take_for_lane():
                return
            super().on_headers_complete()
        else:
            log.warning("refused a request: %d being worked on, the limit", self.limits.max_requests)
            app, self.app = self.app, _busy
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # not an upgrade
            self._receiving_body = True
            self.server_state.bodies_in_flight += 1
            self._body_bytes, self._body_seconds = 0, 0.0

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        self._body_last_data = self.loop.time()
        state = self.server_state
        state.body_bytes_in_flight += len(body)
        if state.body_bytes_in_flight > self.limits.max_body_memory:
            raise _Refusal(
                503,
                f"request bodies still arriving hold this worker's limit of {self.limits.max_body_memory} "
                "bytes; retry shortly",
            )
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._receiving_body:
            self._stop_receiving()
        if self._timer is not None:
            self._cancel_timer()
        self._in_message = False
        self._head_bytes = 0
        cycle = self.cycle
        if type(cycle) is _LaneExchange:
            cycle.more_body = False
            task = self.loop.create_task(self._serve_in_lane(cycle))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)
        else:
            super().on_message_complete()

    # The prediction lane

    def _take_for_lane(self) -> bool:
        """Whether the request whose headers are in is the lane's; if so, its body is gathered for it.

        The lane takes a POST to a prediction route (see PredictionLane.takes) with nothing that needs
        uvicorn's handling: no query string or escapes in the path, no ``Expect``, no upgrade, and no
        request still being answered on the connection (uvicorn queues a pipelined one).
        """
        parser, url = self.parser, self.url
        if parser.get_method() != b"POST" or self.expect_100_continue or parser.should_upgrade():
            return False
        if (self.cycle is not None and not self.cycle.response_complete) or self.root_path:
            return False
        if b"?" in url or b"%" in url or b"#" in url or not url.isascii():
            return False
        path = url.decode("ascii")
        match = self.lane.takes(path, self.headers)
        if match is None:
            return False
        scope = self.scope  # as uvicorn's on_headers_complete completes it
        http_version = parser.get_http_version()
        scope["method"], scope["path"], scope["raw_path"], scope["query_string"] = "POST", path, url, b""
        if http_version != "1.1":
            scope["http_version"] = http_version
        self.cycle = _LaneExchange(scope, match, http_version != "1.0" and parser.should_keep_alive())
        self._receiving_body = True  # bytes counted in memory; it is not being worked on until complete
        self._body_bytes, self._body_seconds = 0, 0.0
        return True

    async def _serve_in_lane(self, exchange: _LaneExchange) -> None:
        """The lane's answer; then the connection goes on as after any answer."""
        await self.lane.serve(exchange.scope, exchange.match, exchange.body, partial(self._write, exchange))
        if not exchange.response_complete:  # the client left, or a limit refused the connection meanwhile
            return
        if self.flow.write_paused:  # the client is not reading: read its next request once it has
            await self.flow.drain()
        if not exchange.keep_alive:
            self.transport.close()
        self.on_response_complete()

    def _write(
        self, exchange: _LaneExchange, status: int, headers: list[tuple[bytes, bytes]], content: bytes
    ) -> None:
        """The lane's answer, in one write."""
        if exchange.disconnected:
            return
        if self.access_log:  # uvicorn's own line, on when the service's request log is off
            scope = exchange.scope
            self.access_logger.info(
                '%s - "POST %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["path"],
                scope["http_version"],
                status,
            )
        # exchange.keep_alive: unset meanwhile by a graceful shutdown
        answer, keep_alive = self._answer(status, headers, content, keep_alive=exchange.keep_alive)
        self.transport.write(answer)
        exchange.keep_alive, exchange.response_started, exchange.response_complete = keep_alive, True, True

    # Timers

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(seconds, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _stop_receiving(self) -> None:
        if self._receiving_body:
            self._receiving_body = False
            if type(self.cycle) is not _LaneExchange:
                self.server_state.bodies_in_flight -= 1
            self.server_state.body_bytes_in_flight -= self._body_bytes

    def _headers_too_slow(self) -> None:
        self._timer = None
        if self._head_bytes:
            self._refuse(408, f"request headers not received within {self.limits.header_timeout:g} s")
        elif self.cycle is None or self.cycle.response_complete:
            self.transport.close()  # a connection that never sent a byte of a request: nothing to answer

    def _check_body_pace(self) -> None:
        self._timer = None
        if not self._receiving_body:
            return
        if not self.flow.read_paused:  # paused: the app is not reading, the wait is not the client's
            self._body_seconds += _CHECK_EVERY_S
        limits = self.limits
        idle = self.loop.time() - self._body_last_data
        if idle > limits.body_timeout and not self.flow.read_paused:
            self._refuse(408, f"request body stalled: nothing received for {limits.body_timeout:g} s")
        elif self._body_seconds > limits.body_timeout and (
            self._body_bytes < limits.min_body_rate * self._body_seconds
        ):
            self._refuse(408, f"request body arrives slower than {limits.min_body_rate:g} bytes a second")
        else:
            self._arm(_CHECK_EVERY_S, self._check_body_pace)

    # Answers and closing

    def _refuse(self, status: int, detail: str) -> None:
        """Answer ``status`` in place of the app (if it has not answered yet), then close."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:
                self.transport.close()
                return
            cycle.disconnected = True  # the app's receive() now says so; its answer goes nowhere
            cycle.message_event.set()
        log.info("refused %s: %d %s", _peer(self.client), status, detail)
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        self.transport.write(self._answer(status, headers, body, keep_alive=False)[0])
        self.transport.close()

    def _answer(
        self, status: int, headers: list[tuple[bytes, bytes]], content: bytes, *, keep_alive: bool
    ) -> tuple[bytes, bool]:
        """An answer's bytes as uvicorn writes them (its default headers first, ``connection: close`` when
        the connection ends), and whether the connection stays open: not if the headers say close."""
        head, closing = [STATUS_LINE[status]], False
        for name, value in chain(self.server_state.default_headers, headers):
            if name == b"connection" and b"close" in value.lower():
                keep_alive, closing = False, True
            head += [name, b": ", value, b"\r\n"]
        if not (keep_alive or closing):
            head.append(b"connection: close\r\n")
        head += [b"\r\n", content]
        return b"".join(head), keep_alive

    def _close(self) -> None:
        """Close; while the client may still be sending its request, linger first.

        Closing a socket with unread data makes the kernel send a reset, which can reach the client
        before the answer it was sent. So the writing half closes (the answer, then end of stream),
        whatever arrives is dropped, and the connection closes ``linger`` seconds later, or after a
        megabyte, whichever comes first.
        """
        transport = self.transport._transport
        if transport.is_closing() or self._lingering:
            return
        if not (self._in_message and transport.can_write_eof()):
            transport.close()
            return
        self._lingering = True
        self._cancel_timer()
        self._stop_receiving()
        transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(self.limits.linger, transport.close)


class _NoEvent:
    """What uvicorn's protocol sets to wake an ASGI app waiting for its body; the lane has none waiting."""

    @staticmethod
    def set() -> None:
        pass


class _LaneExchange:
    """What stands in for uvicorn's request-response cycle while the lane serves a request: the parts
    uvicorn's protocol (pipelining, shutdown, a lost connection) and this one's refusals read and set."""

    message_event = _NoEvent

    def __init__(self, scope: Any, match: Any, keep_alive: bool) -> None:
        self.scope, self.match, self.keep_alive = scope, match, keep_alive
        self.body = b""
        self.more_body = True
        self.response_started = self.response_complete = self.disconnected = False


def _prediction_lane_of(app: Any) -> Any:
    """The app's prediction lane (app/api/fast_lane.py), found through the ASGI wrappers uvicorn puts
    around it (proxy headers, message logging); None when it has none."""
    for _ in range(8):
        lane = getattr(getattr(app, "state", None), "prediction_lane", None)
        if lane is not None or not hasattr(app, "app"):
            return lane
        app = app.app
    return None


def _closing_if_body_unread(cycle: RequestResponseCycle) -> Callable:
    """The cycle's ``send``, made to end the connection when the app answers before the body is read.

    Otherwise uvicorn keeps the connection and reads the rest of the body (2 GB, say) to find the next
    request. The server adds ``Connection: close`` to the answer.
    """
    send = cycle.send

    async def send_closing(message: Any) -> None:
        if cycle.more_body and message["type"] == "http.response.start":
            cycle.keep_alive = False
        await send(message)

    return send_closing


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    body = b'{"detail":"the server is at its limit of requests being worked on; retry shortly"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"
