"""The ``digit-serve`` command: the API under uvicorn, with its process settings from SERVE_* variables."""

from __future__ import annotations

import argparse
import os
import signal
import sys

import uvicorn

from app.http_protocol import GuardedHttpToolsProtocol
from app.observability.logs import logging_config
from app.observability.multiprocess import metrics_dir
from app.settings import get_settings


def run_server(host: str, port: int, workers: int = 1) -> None:
    """uvicorn with the service's log format and process limits; its access log is off while ours is on."""
    settings = get_settings()
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
    settings = get_settings()
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
        default=settings.workers,
        help="worker processes (default: $SERVE_WORKERS or %(default)s)",
    )
    args = parser.parse_args(argv)
    run_server(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
