"""Load test: wrk at concurrency 64 against /predict/mnist (one PNG) and /predict/logistic.

Starts the production path itself (``digit-serve``'s run_server: 2 uvicorn workers, metrics in multiprocess
mode, JSON request logs) on tiny random-weight checkpoints, then prints per endpoint: requests/s,
p50/p99 latency and errors (non-2xx answers plus socket errors; both must be 0).

    apt-get install -y wrk
    .venv/bin/python -m benchmarks.load [--duration 30] [--connections 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.fixtures import FEATURES_JSON, MULTIPART_CONTENT_TYPE, write_fixtures
from benchmarks.loadgen import require_wrk, run_load
from benchmarks.processes import free_port, running_server, server_argv


def predict_requests_counted(port: int) -> float:
    """What /metrics says about /predict requests: with several workers, the sum over all of them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in response.read().decode().splitlines()
            if line.startswith("http_requests_total{") and 'route="/predict/' in line
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per endpoint (default: 30)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require_wrk()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = write_fixtures(Path(tmp))
        targets = {
            "/predict/mnist": (fixtures.multipart, MULTIPART_CONTENT_TYPE),
            "/predict/logistic": (FEATURES_JSON, "application/json"),
        }
        env = {**os.environ, **fixtures.env, "SERVE_DEVICE": "cpu", "SERVE_LOG_FORMAT": "json"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes a fresh one for its workers
        command = [*server_argv("ours", port), "--workers", str(args.workers)]
        with running_server(command, port, env=env):
            print(
                f"wrk -c{args.connections} -d{args.duration}s, {args.workers} uvicorn workers, JSON logs on"
            )
            print(f"{'endpoint':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
            sent = 0
            for path, (body, content_type) in targets.items():
                r = run_load(
                    f"http://127.0.0.1:{port}{path}",
                    body,
                    content_type,
                    connections=args.connections,
                    duration_s=args.duration,
                    threads=2,
                )
                print(f"{path:<20}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.errors:>8}")
                sent += r.requests
            time.sleep(1.5)  # a worker that is not scraped publishes its counts every second
            counted = predict_requests_counted(port)
            print(f"/metrics counts {counted:.0f} /predict requests across the workers; wrk counted {sent}")


if __name__ == "__main__":
    main()
