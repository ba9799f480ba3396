"""Profile one endpoint's hot path in-process: the ASGI app called directly, no sockets, no client.

    python -m benchmarks.profile_hot_path [mnist|logistic] [--requests 3000] [--app ours|naive]

Prints the CPU time per request and cProfile's top functions by cumulative time, so what each feature costs
per request shows without the noise of a load test. Ours logs each request as ``digit-serve`` does (to the
null device); the naive peer's log line is uvicorn's, outside the app, so it is not counted here.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging.config
import os
import pstats
import tempfile
import time
from pathlib import Path

from benchmarks.fixtures import write_fixtures


def _request(path: str, body: bytes, content_type: str) -> tuple[dict, list[dict]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    return scope, [{"type": "http.request", "body": body, "more_body": False}]


async def _drive(app, path: str, body: bytes, content_type: str, count: int) -> None:
    async def send(message: dict) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']}")

    for _ in range(count):
        scope, messages = _request(path, body, content_type)
        await app(scope, lambda messages=messages: asyncio.sleep(0, messages.pop(0)), send)


async def _run(app_name: str, job: str, count: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = write_fixtures(Path(tmp))
        os.environ.update(fixtures.env)
        if app_name == "ours":
            from app.main import create_app

            _log_like_serve()
            app = create_app()
        else:
            from benchmarks.peers.naive_server import app
        request = fixtures.jobs[job]
        target = (request.path, request.body, request.content_type)
        async with app.router.lifespan_context(app):
            await _drive(app, *target, 200)  # warm-up
            profiler = cProfile.Profile() if profile else None
            started = time.process_time()  # CPU time: on a shared machine, wall time is mostly other people
            if profiler:
                profiler.enable()
            await _drive(app, *target, count)
            if profiler:
                profiler.disable()
            elapsed = time.process_time() - started
    per_request = elapsed / count
    print(f"{app_name} {job}: {per_request * 1e6:.0f} us CPU per request ({1 / per_request:.0f} req/s/core)")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(35)


def _log_like_serve() -> None:
    """The request log as ``digit-serve`` sets it up, written to the null device: its cost is part of ours."""
    from app.observability.logs import logging_config
    from app.settings import get_settings

    config = logging_config(get_settings())
    config["handlers"]["default"]["stream"] = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the run)
    logging.config.dictConfig(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=["mnist", "logistic"], nargs="?", default="mnist")
    parser.add_argument("--app", choices=["ours", "naive"], default="ours")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(_run(args.app, args.job, args.requests, args.profile))


if __name__ == "__main__":
    main()
