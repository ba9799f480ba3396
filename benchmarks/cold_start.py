"""Cold start: seconds from spawning ``digit-serve`` to GET /health/ready answering 200, and where they go.

    python -m benchmarks.cold_start [--runs 3]

Prints the median time to ready for this service and for the naive peer, then a breakdown: the import
time of the heavy packages (``python -X importtime -c 'import app.main'``) and the checkpoint load time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.fixtures import write_fixtures
from benchmarks.processes import ROOT, free_port, running_server, server_argv

GROUPS = (
    "torch",
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "PIL",
    "multipart",
    "python_multipart",
    "app",
    "models",
)


def time_to_ready(argv: list[str], port: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    with running_server(argv, port, env=env):
        return time.perf_counter() - started


def import_times(env: dict[str, str]) -> dict[str, float]:
    """Cumulative import seconds per top-level package, as ``-X importtime`` reports them."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app.main"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # the header line
        name, seconds = fields[2][1:], int(fields[1]) / 1e6
        if not name.startswith(" "):
            totals["total (import app.main)"] += seconds
        # A package's own line, at whatever depth it was first imported: its cumulative time.
        if name.strip() in GROUPS:
            totals[name.strip()] = max(totals[name.strip()], seconds)
    return dict(totals)


def checkpoint_load_seconds(env: dict[str, str]) -> float:
    code = (
        "import os, time, models; t = time.perf_counter(); "
        "[models.load(os.environ[k]) for k in ('SERVE_LOGISTIC_CHECKPOINT', 'SERVE_MNIST_CHECKPOINT')]; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, help="TCP port (default: a free one)")
    args = parser.parse_args()
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        env = {**os.environ, **write_fixtures(Path(tmp)).env}
        servers = {"ours (digit-serve)": server_argv("ours", port), "naive peer": server_argv("naive", port)}
        print(f"time to ready, median of {args.runs}:")
        for name, argv in servers.items():
            runs = [time_to_ready(argv, port, env) for _ in range(args.runs)]
            print(
                f"  {name:<14} {statistics.median(runs):.2f} s  (runs: {', '.join(f'{r:.2f}' for r in runs)})"
            )
        print("where it goes (import app.main, cumulative seconds per package):")
        for name, seconds in sorted(import_times(env).items(), key=lambda item: -item[1]):
            print(f"  {name:<24} {seconds:.2f} s")
        print(f"  {'checkpoint load (both)':<24} {checkpoint_load_seconds(env):.3f} s")


if __name__ == "__main__":
    main()
