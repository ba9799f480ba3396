"""Load test: wrk at concurrency 64 against /predict/mnist (one PNG) and /predict/logistic.

Starts the production path itself (``serve``'s run_server: 2 uvicorn workers, metrics in multiprocess
mode, JSON request logs) on tiny random-weight checkpoints, then prints per endpoint: requests/s,
p50/p99 latency and errors (non-2xx answers plus socket errors; both must be 0).

    apt-get install -y wrk
    .venv/bin/python benchmarks/load.py [--duration 30] [--connections 64] [--workers 2]

The wrk helper here (``wrk_post``) is deliberately small; benchmarks/serve.py has the shared one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch
from PIL import Image

import models

# wrk's done() hook prints one JSON line; status errors are answers >= 400, the rest socket errors.
_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
local file = io.open("{body_path}", "rb")
wrk.body = file:read("*a")
file:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests": %d, "seconds": %f, "status_errors": %d, "socket_errors": %d, '
    .. '"p50_ms": %f, "p99_ms": %f}}\\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_post(url: str, body: bytes, content_type: str, duration: int, connections: int) -> dict:
    """POST ``body`` to ``url`` with wrk for ``duration`` seconds; its figures as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        body_path, script_path = Path(tmp, "body"), Path(tmp, "post.lua")
        body_path.write_bytes(body)
        script_path.write_text(_WRK_SCRIPT.format(content_type=content_type, body_path=body_path))
        threads = min(connections, os.cpu_count() or 1)
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", str(script_path), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = result["status_errors"] + result["socket_errors"]
    return result


def multipart_png() -> tuple[bytes, str]:
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[6:22, 12:16] = 255
    image = io.BytesIO()
    Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())).save(image, "PNG")
    boundary = "loadtestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + image.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkpoints: Path, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SERVE_LOGISTIC_CHECKPOINT": str(models.save(models.LogisticRegression(), checkpoints / "l.pt")),
        "SERVE_MNIST_CHECKPOINT": str(models.save(models.SoftmaxRegression(), checkpoints / "m.pt")),
        "SERVE_DEVICE": "cpu",
        "SERVE_LOG_FORMAT": "json",
        "SERVE_ACCESS_LOG": "true",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # run_server makes a fresh one for the workers
    code = f"from app.cli import run_server; run_server('127.0.0.1', {port}, workers={workers})"
    log = open(checkpoints / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready") as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("server did not become ready; see " + str(checkpoints / "server.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    png_body, png_type = multipart_png()
    targets = {
        "/predict/mnist": (png_body, png_type),
        "/predict/logistic": (b'{"features": [4.0, 3.0]}', "application/json"),
    }
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), port, args.workers)
        try:
            print(
                f"wrk -c{args.connections} -d{args.duration}s, {args.workers} uvicorn workers, JSON logs on"
            )
            print(f"{'endpoint':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
            for path, (body, content_type) in targets.items():
                r = wrk_post(
                    f"http://127.0.0.1:{port}{path}", body, content_type, args.duration, args.connections
                )
                print(f"{path:<20}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['errors']:>8}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
                counted = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in response.read().decode().splitlines()
                    if line.startswith("http_requests_total{") and 'route="/predict/' in line
                )
            print(f"/metrics counts {counted:.0f} /predict requests across the workers")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
