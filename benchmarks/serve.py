"""Requests/s and latency of the prediction API under load, against a server this script starts.

    .venv/bin/python benchmarks/serve.py [--duration 10] [--concurrency 16 64]

Starts uvicorn (1 worker) on a free loopback port with the committed checkpoints, or with freshly built
ones when those are missing, then loads /predict/logistic and single-image /predict/mnist in turn.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loadgen import LoadResult, run_load  # noqa: E402

import models  # noqa: E402
from app.schemas.examples import SEVEN_PIXELS  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checkpoints(tmp: Path) -> dict[str, str]:
    """SERVE_* variables pointing at the committed checkpoints, or at ones built here when absent."""
    env = {}
    for name, build in (("logistic", models.LogisticRegression), ("mnist", models.SoftmaxRegression)):
        path = ROOT / "checkpoints" / f"{name}.pt"
        if not path.exists():
            path = models.save(build(), tmp / f"{name}.pt", version="benchmark")
            print(f"{name}: no committed checkpoint, serving an untrained one from {path}")
        env[f"SERVE_{name.upper()}_CHECKPOINT"] = str(path)
    return env


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "SERVE_DEVICE": "cpu", **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode} before it was ready")
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("server not ready within 60 s")


def mnist_upload() -> tuple[bytes, str]:
    """One 28x28 PNG as a multipart body, as a browser would send it."""
    buffer = io.BytesIO()
    pixels = torch.tensor(SEVEN_PIXELS, dtype=torch.uint8)
    Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())).save(buffer, "PNG")
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="seven.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + buffer.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell (default: 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()

    upload, upload_type = mnist_upload()
    targets = [
        ("/predict/logistic", b'{"features": [4.0, 3.0]}', "application/json"),
        ("/predict/mnist", upload, upload_type),
    ]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, checkpoints(Path(tmp)))
        try:
            for path, body, content_type in targets:  # one warm-up request each, checked
                response = httpx.post(
                    f"http://127.0.0.1:{port}{path}", content=body, headers={"content-type": content_type}
                )
                response.raise_for_status()
            rows: list[tuple[str, LoadResult]] = [
                (
                    path,
                    run_load(
                        f"http://127.0.0.1:{port}{path}",
                        body,
                        content_type,
                        connections=c,
                        duration_s=args.duration,
                    ),
                )
                for path, body, content_type in targets
                for c in args.concurrency
            ]
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"\n{'endpoint':<20} {'conc':>5} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}  tool"
    )
    for path, r in rows:
        print(
            f"{path:<20} {r.connections:>5} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p90_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.errors:>7}  {r.tool}"
        )


if __name__ == "__main__":
    main()
