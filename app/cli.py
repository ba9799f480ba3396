"""The ``serve`` command: run the API under uvicorn."""

from __future__ import annotations

import argparse
import os

import uvicorn

from app.observability.logs import logging_config
from app.observability.multiprocess import prepare_metrics_dir
from app.settings import get_settings


def run_server(host: str, port: int, workers: int = 1) -> None:
    """uvicorn with the service's log format; its own access log is off while ours is on."""
    settings = get_settings()
    prepare_metrics_dir(workers)  # before any worker starts: each reads it when importing the metrics
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings),
        access_log=not settings.access_log,
    )


def main(argv: list[str] | None = None) -> None:
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
    args = parser.parse_args(argv)
    run_server(args.host, args.port)


if __name__ == "__main__":
    main()
