"""The ``serve`` command: run the API under uvicorn, with its process settings from SERVE_* variables."""

from __future__ import annotations

import argparse
import os
import signal
import sys

import uvicorn

from app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Serve the prediction API with uvicorn.")
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
    # uvicorn drains requests in flight on SIGTERM, then raises SIGTERM again to die of it (status 143);
    # a drained stop is a clean one, so this handler, restored by then, exits 0 instead.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.limit_concurrency,
        timeout_graceful_shutdown=settings.graceful_timeout_seconds,
    )


if __name__ == "__main__":
    main()
