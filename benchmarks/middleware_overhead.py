"""What the observability middleware costs per request, apart from any server or network.

Calls a trivial ASGI endpoint directly, bare and wrapped as create_app wraps routes (body limit, then
metrics and request ids, with and without the JSON request line written to /dev/null), and prints µs
per request (best of 3 rounds).

    .venv/bin/python benchmarks/middleware_overhead.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from types import SimpleNamespace

from app.observability.body_limit import BodyLimitMiddleware, BodyLimits
from app.observability.logs import JsonFormatter
from app.observability.middleware import ObservabilityMiddleware, RequestObserver
from benchmarks.fixtures import FEATURES_JSON

ROUTE = SimpleNamespace(path="/predict/logistic")
BODY = FEATURES_JSON
SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/predict/logistic",
    "query_string": b"",
    "client": ("127.0.0.1", 50000),
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
}


async def endpoint(scope, receive, send) -> None:
    await receive()
    scope["route"] = ROUTE  # what the router sets on a match
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> dict:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def send(message: dict) -> None:
    pass


async def microseconds_per_request(app, requests: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(requests):
            await app(dict(SCOPE), receive, send)
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    handler = logging.FileHandler("/dev/null")
    handler.setFormatter(JsonFormatter())
    logging.getLogger("app.access").addHandler(handler)
    logging.getLogger("app.access").setLevel(logging.INFO)
    logging.getLogger("app.access").propagate = False
    limited = BodyLimitMiddleware(endpoint, limits=BodyLimits(multipart=1 << 24, json=1 << 20))
    variants = {
        "bare endpoint": endpoint,
        "+ body limit": limited,
        "+ metrics, request id": ObservabilityMiddleware(limited, observer=RequestObserver(access_log=False)),
        "+ JSON request line": ObservabilityMiddleware(limited, observer=RequestObserver(access_log=True)),
    }
    for name, app in variants.items():
        print(f"{name:<24}{await microseconds_per_request(app, args.requests):8.1f} µs/request")


if __name__ == "__main__":
    asyncio.run(main())
