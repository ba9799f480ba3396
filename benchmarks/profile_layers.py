"""Where a prediction's CPU goes in the whole server, layer by layer: uvicorn, middleware, routing, body
parsing and validation, torch calls, serialisation, logging and metrics.

    python -m benchmarks.profile_layers [mnist|logistic] [--requests 2000]

Runs ``digit-serve``'s uvicorn (its HTTP protocol, log set-up and every production feature) in this
process, and a client process sends the requests one after another on one keep-alive connection. The
server thread's CPU is profiled with cProfile (thread CPU time, so the client and other threads are not
counted), and each function's own time is put in the first layer whose pattern its file or name matches
(LAYERS). cProfile adds a cost per Python call, so pure-Python layers look larger than they are; the
``us`` column scales the shares to the server thread's CPU per request measured without the profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fixtures import write_fixtures
from benchmarks.processes import free_port

# (layer, patterns): a function belongs to the first layer one of whose patterns is in its file or name.
LAYERS = (
    ("logging (request log)", ("/logging/", "app/observability/logs.py", "posixpath", "flush", "translate")),
    ("metrics", ("prometheus_client", "app/observability/metrics.py")),
    (
        "torch calls (model, servable)",
        ("/torch/", "models/", "app/core/servables.py", "torch.", "torch._C", "app/batching.py"),
    ),
    ("serialisation (response)", ("to_json", "app/api/responses.py", "starlette/responses.py")),
    (
        "body parsing and validation",
        (
            "pydantic",
            "validate_",
            "app/api/json_body.py",
            "app/api/heavy_work.py",
            "app/schemas/",
            "multipart",
            "app/uploads.py",
            "PIL",
            "app/imaging.py",
            "starlette/requests.py",
            "starlette/datastructures.py",
            "contextlib.py",
        ),
    ),
    (
        "routing and the prediction's own code",
        (
            "starlette/routing.py",
            "fastapi/",
            "app/api/",
            "app/core/",
            "starlette/middleware/exceptions.py",
            "starlette/_exception_handler.py",
        ),
    ),
    (
        "middleware (request id, body limit, hosts)",
        ("app/observability/", "starlette/middleware/", "starlette/applications.py"),
    ),
    (
        "HTTP server (uvicorn, asyncio)",
        (
            "uvicorn",
            "httptools",
            "asyncio",
            "app/http_protocol.py",
            "_socket",
            "select",
            "_contextvars",
            "_weakrefset",
            "_heapq",
        ),
    ),
)
OTHER = "other (interpreter built-ins)"

_CLIENT = """
import http.client, sys
port, path, content_type, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = sys.stdin.buffer.read()
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(count):
    connection.request("POST", path, body=body, headers={"content-type": content_type})
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
"""


def layer_of(file: str, name: str) -> str:
    where = f"{file}:{name}"
    return next((layer for layer, patterns in LAYERS if any(p in where for p in patterns)), OTHER)


async def _send(port: int, job, count: int) -> None:
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CLIENT,
        str(port),
        job.path,
        job.content_type,
        str(count),
        stdin=asyncio.subprocess.PIPE,
    )
    await client.communicate(job.body)
    if client.returncode != 0:
        raise RuntimeError("the client failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=["mnist", "logistic"], nargs="?", default="logistic")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-layers-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        os.environ.update({**fixtures.env, "SERVE_DEVICE": "cpu", "SERVE_GRPC_PORT": str(free_port())})
        import uvicorn

        from app.http_protocol import GuardedHttpToolsProtocol
        from app.observability.logs import logging_config
        from app.settings import get_settings

        settings, port = get_settings(), free_port()
        config = uvicorn.Config(  # as app/cli.py's run_server configures it
            "app.main:app",
            host="127.0.0.1",
            port=port,
            log_config=logging_config(settings),
            access_log=not settings.access_log,
            timeout_keep_alive=settings.keep_alive_seconds,
            http=GuardedHttpToolsProtocol,
        )
        _quiet_request_log()
        server = uvicorn.Server(config)
        job = fixtures.jobs[args.job]
        profiler = cProfile.Profile(time.thread_time)
        result = {}

        async def drive() -> None:
            while not server.started:
                await asyncio.sleep(0.05)
            await _send(port, job, 300)  # warm-up
            started = time.thread_time()
            await _send(port, job, args.requests)
            result["plain"] = (time.thread_time() - started) / args.requests
            profiler.enable()
            await _send(port, job, args.requests)
            profiler.disable()
            server.should_exit = True

        async def serve() -> None:
            await asyncio.gather(server.serve(), drive())

        asyncio.run(serve())
    _print_layers(pstats.Stats(profiler), result["plain"], args.job, args.requests)


def _quiet_request_log() -> None:
    """The request log is written as digit-serve writes it, to the null device rather than the terminal."""
    import logging

    for handler in logging.getLogger().handlers + logging.getLogger("app").handlers:
        if hasattr(handler, "setStream"):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the run)


def _print_layers(stats: pstats.Stats, plain_s: float, job: str, requests: int) -> None:
    totals: dict[str, float] = {}
    for (file, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        layer = layer_of(file, name)
        totals[layer] = totals.get(layer, 0.0) + own
    whole = sum(totals.values())
    print(f"\n{job}: {plain_s * 1e6:.0f} us of server-thread CPU per request without the profiler")
    print(f"{'layer':<46}{'share':>8}{'us':>8}")
    for layer, _ in (*LAYERS, (OTHER, ())):
        share = totals.get(layer, 0.0) / whole
        print(f"{layer:<46}{share:>8.1%}{share * plain_s * 1e6:>8.0f}")


if __name__ == "__main__":
    main()
