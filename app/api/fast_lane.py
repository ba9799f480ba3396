"""The fast lane: the plain prediction requests, answered ahead of FastAPI's routing and dependencies.

A small prediction's work is a few torch calls; FastAPI's route machinery around it (the exception and
exit-stack layers, the route scan, the request/response wrappers, the dependency solve) cost more than the
model. So ``POST /predict/{name}`` (``logistic``, ``mnist`` and any model of the repository) and
``POST /predict/{name}/pixels`` without a query string are answered here, by the very functions the
routes call (app/api/routes/predict.py), with the same API key check and the same exception handlers.
Everything else, including any request with a query string, goes on to the FastAPI routes, which stay
the reference: they are what /openapi.json and Swagger describe, and they answer exactly as the lane does
(tests/api/test_fast_lane.py compares the two).

It sits inside the app's own middlewares (request id, metrics, request log, trusted hosts, body limits),
so every request still passes them, and it names the route it served in ``scope["route"]`` as the router
would. With OpenTelemetry on it is not installed: FastAPI's telemetry names each span from its router.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.routes import predict
from app.security import api_key_scheme, bearer_scheme, require_api_key

_PREFIX = "/predict/"


class FastLane:
    """Pure ASGI middleware, the innermost of the app's: prediction requests served, others passed on."""

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.settings = fastapi_app.state.settings
        self._routes: dict[str, BaseRoute] = {}  # path template -> route, for the metrics' route label

    def route(self, path: str) -> BaseRoute:
        route = self._routes.get(path)
        if route is None:
            route = next(r for r in self.fastapi_app.router.routes if getattr(r, "path", None) == path)
            self._routes[path] = route
        return route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["query_string"]
            or not scope["path"].startswith(_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        name, slash, tail = scope["path"][len(_PREFIX) :].partition("/")
        if not name:
            await self.app(scope, receive, send)
            return
        if not slash:  # the routes /predict/logistic, /predict/mnist and /predict/{name}
            template = f"{_PREFIX}{name}" if name in predict.NAMED_ROUTES else "/predict/{name}"
            pixels = False
        elif tail == "pixels":  # /predict/mnist/pixels and /predict/{name}/pixels
            template = f"{_PREFIX}mnist/pixels" if name == "mnist" else "/predict/{name}/pixels"
            pixels = True
        else:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route(template)
        request = Request(scope, receive)
        try:
            if self.settings.api_key is not None:  # the routes' dependency, called as FastAPI would
                bearer, api_key = await bearer_scheme(request), await api_key_scheme(request)
                await require_api_key(self.settings, bearer, api_key)
            if pixels:
                response = await predict.pixels_answer(request, name, None)
            else:
                response = await predict.predict_answer(request, name, None, "auto")
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # a bug: ObservabilityMiddleware logs it and answers 500
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable | None:
        """The app's exception handler for ``exc``, found as Starlette's ExceptionMiddleware finds it."""
        handlers = self.fastapi_app.exception_handlers
        return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
