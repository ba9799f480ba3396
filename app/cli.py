"""The ``serve`` command: run the API under uvicorn."""

from __future__ import annotations

import argparse
import os

import uvicorn


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
    uvicorn.run("app.main:app", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
