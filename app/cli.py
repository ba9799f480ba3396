"""The ``digit-serve`` command: the API under uvicorn, with its process settings from SERVE_* variables.

Each worker serves REST on --port and, unless SERVE_GRPC_ENABLED=false, the Open Inference Protocol over
gRPC on SERVE_GRPC_PORT (app/grpc_server/).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys

import uvicorn

from app.http_protocol import GuardedHttpToolsProtocol
from app.observability.logs import logging_config
from app.observability.multiprocess import metrics_dir
from app.settings import get_settings


def _check_port_free(host: str, port: int) -> None:
    """Exit with a clear message when another socket holds the gRPC port.

    Every worker binds it with SO_REUSEPORT, which would otherwise share it silently with another server
    of the same user; and a worker would find a taken port only once its models had loaded.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            sys.exit(
                f"gRPC port {host}:{port} is in use ({exc.strerror}): set SERVE_GRPC_PORT, or "
                "SERVE_GRPC_ENABLED=false to serve REST only"
            )


def run_server(host: str, port: int, workers: int | None = None) -> None:
    """uvicorn with the service's log format and process limits; its access log is off while ours is on.

    ``workers``: None takes SERVE_WORKERS.
    """
    # gRPC binds where HTTP does unless told otherwise. Set before the settings are first read, here and
    # in every worker process (they read the environment this process hands them).
    os.environ.setdefault("SERVE_GRPC_HOST", host)
    settings = get_settings()
    workers = workers or settings.workers
    if settings.grpc_enabled:
        _check_port_free(settings.grpc_host, settings.grpc_port)
    # uvicorn drains requests in flight on SIGTERM, then raises SIGTERM again to die of it (status 143);
    # a drained stop is a clean one, so this handler, restored by then, exits 0 instead.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    # Made before any worker starts (each reads it when importing the metrics), removed once all stopped.
    with metrics_dir(workers):
        uvicorn.run(
            "app.main:app",
            host=host,
            port=port,
            workers=workers,
            log_config=logging_config(settings),
            access_log=not settings.access_log,
            timeout_keep_alive=settings.keep_alive_seconds,
            # uvicorn's httptools protocol with header and body timeouts, header caps and a concurrency
            # limit that counts requests, not connections (SERVE_LIMIT_CONCURRENCY): see there.
            http=GuardedHttpToolsProtocol,
            timeout_graceful_shutdown=settings.graceful_timeout_seconds,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="digit-serve", description="Serve the prediction API with uvicorn.")
    parser.add_argument(
        "--host", default=os.environ.get("HOST", "127.0.0.1"), help="bind address (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="TCP port (default: $PORT or 8000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: $SERVE_WORKERS or 1)",
    )
    args = parser.parse_args(argv)
    run_server(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
