"""The fast lane: the plain prediction requests, answered ahead of FastAPI's routing and dependencies.

A small prediction's work is a few torch calls; FastAPI's route machinery around it (the exception and
exit-stack layers, the route scan, the request/response wrappers, the dependency solve) cost more than the
model. So ``POST /predict/{name}`` (``logistic``, ``mnist`` and any model of the repository) and
``POST /predict/{name}/pixels`` without a query string are answered here, by the very functions the
routes call (app/api/routes/predict.py), with the same API key check and the same exception handlers.
Everything else, including any request with a query string, goes on to the FastAPI routes, which stay
the reference: they are what /openapi.json and Swagger describe, and they answer exactly as the lane does
(tests/api/test_fast_lane.py compares the two).

The lane has two entrances, one answer (``PredictionLane.answer``):

* ``FastLane``, the innermost of the app's ASGI middlewares, inside the request id, metrics, request log,
  trusted hosts and body limits: it serves under any ASGI server and client;
* ``PredictionLane.serve``, called by the service's own HTTP protocol (app/http_protocol.py) with the whole
  body in hand, without ASGI at all: it does what those middlewares do by calling the same code, and
  takes only the requests whose checks it can make before the body arrives (``takes``).

It names the route it served in ``scope["route"]`` as the router would. With OpenTelemetry on it is not
installed: FastAPI's telemetry names each span from its router.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import NamedTuple

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.routes import predict
from app.observability.body_limit import BodyLimits
from app.observability.hosts import TrustedHosts
from app.observability.middleware import (
    INTERNAL_ERROR,
    INTERNAL_ERROR_HEADERS,
    REQUEST_ID_HEADER,
    RequestObserver,
    log_unhandled,
)
from app.security import api_key_scheme, bearer_scheme, require_api_key

_PREFIX = "/predict/"
# The HTTP front buffers a body before the lane runs: only this much, as uvicorn reads 64 KiB before it
# pauses. A larger body goes the ASGI way, streamed and counted by the body limit as it arrives.
FRONT_MAX_BODY = 64 * 1024
# Headers the HTTP front leaves to the ASGI way: a chunked body (no length to check first), and the
# forwarded client address that uvicorn's proxy-headers middleware reads.
_NOT_FOR_THE_FRONT = frozenset({b"transfer-encoding", b"x-forwarded-for", b"x-forwarded-proto"})


Headers = list[tuple[bytes, bytes]]
Respond = Callable[[int, Headers, bytes], None]


class Match(NamedTuple):
    route: BaseRoute  # the route the router would have chosen, for the metrics' label
    name: str  # the model
    pixels: bool  # /predict/{name}/pixels


class PredictionLane:
    """Which requests the lane answers, and its answer."""

    def __init__(
        self,
        fastapi_app: FastAPI,
        *,
        observer: RequestObserver,
        body_limits: BodyLimits,
        trusted_hosts: TrustedHosts | None,
    ) -> None:
        self.fastapi_app = fastapi_app
        self.settings = fastapi_app.state.settings
        self.observer, self.body_limits, self.trusted_hosts = observer, body_limits, trusted_hosts
        self._routes: dict[str, BaseRoute] = {}  # path template -> route

    def match(self, path: str) -> Match | None:
        """The lane's route for ``POST path`` (no query string), or None: the request is not the lane's."""
        if not path.startswith(_PREFIX):
            return None
        name, slash, tail = path[len(_PREFIX) :].partition("/")
        if not name:
            return None
        if not slash:  # the routes /predict/logistic, /predict/mnist and /predict/{name}
            template = f"{_PREFIX}{name}" if name in predict.NAMED_ROUTES else "/predict/{name}"
            return Match(self._route(template), name, False)
        if tail == "pixels":  # /predict/mnist/pixels and /predict/{name}/pixels
            template = f"{_PREFIX}mnist/pixels" if name == "mnist" else "/predict/{name}/pixels"
            return Match(self._route(template), name, True)
        return None

    def _route(self, template: str) -> BaseRoute:
        route = self._routes.get(template)
        if route is None:
            route = next(r for r in self.fastapi_app.router.routes if getattr(r, "path", None) == template)
            self._routes[template] = route
        return route

    async def answer(self, request: Request, match: Match) -> Response:
        """The route's answer, or the app's exception handler's; an exception no handler takes is raised."""
        try:
            if self.settings.api_key is not None:  # the routes' dependency, called as FastAPI would
                bearer, api_key = await bearer_scheme(request), await api_key_scheme(request)
                await require_api_key(self.settings, bearer, api_key)
            if match.pixels:
                return await predict.pixels_answer(request, match.name, None)
            return await predict.predict_answer(request, match.name, None, "auto")
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            return await handler(request, exc)

    def _handler(self, exc: Exception) -> Callable | None:
        """The app's exception handler for ``exc``, found as Starlette's ExceptionMiddleware finds it."""
        handlers = self.fastapi_app.exception_handlers
        return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)

    # The HTTP front's entrance

    def takes(self, path: str, headers: Headers) -> Match | None:
        """The route for a ``POST path`` whose headers are in, if the front may serve it from here.

        It may when the middlewares' checks can be made now: the Host is trusted, the body's length is
        declared and within its limit. Anything else goes the ASGI way, which answers or refuses it.
        """
        match = self.match(path)
        if match is None:
            return None
        length, limit = self.body_limits.declared(headers)
        if length is None or not length.isdigit() or int(length) > min(limit, FRONT_MAX_BODY):
            return None
        for name, _ in headers:  # a plain loop: cheaper per request than any() over a generator
            if name in _NOT_FOR_THE_FRONT:
                return None
        if self.trusted_hosts is not None and not self.trusted_hosts.allow(headers):
            return None
        return match

    async def serve(self, scope: Scope, match: Match, body: bytes, respond: Respond) -> None:
        """Answers a request ``takes`` took, whose ``body`` is complete: ``respond(status, headers, body)``.

        The request is counted and logged after ``respond``, as ObservabilityMiddleware does after the
        answer is sent: the client is not kept waiting for the log line.
        """
        scope["app"], scope["route"] = self.fastapi_app, match.route
        observation = self.observer.begin(scope["headers"])
        status = 0
        try:
            try:
                response = await self.answer(_ReceivedRequest(scope, body), match)
                status, headers, content = response.status_code, response.raw_headers, response.body
            except Exception as exc:
                log_unhandled(scope, exc)
                status, headers, content = 500, INTERNAL_ERROR_HEADERS, INTERNAL_ERROR
            respond(status, [*headers, (REQUEST_ID_HEADER, observation.request_id)], content)
        finally:
            self.observer.end(observation, scope, status)


class _ReceivedRequest(Request):
    """A request the HTTP front has read whole: ``body()`` and ``stream()`` hand over the bytes in hand, as
    a Request does once it has read them, without a ``receive()`` message in between."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        super().__init__(scope, _body_receiver(body))
        self._whole_body = body

    async def body(self) -> bytes:
        return self._whole_body

    async def stream(self) -> AsyncGenerator[bytes, None]:
        yield self._whole_body
        yield b""


def _body_receiver(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class FastLane:
    """Pure ASGI middleware, the innermost of the app's: prediction requests served, others passed on."""

    def __init__(self, app: ASGIApp, *, lane: PredictionLane) -> None:
        self.app = app
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope["query_string"]:
            match = self.lane.match(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = match.route
        response = await self.lane.answer(Request(scope, receive), match)
        await response(scope, receive, send)
