"""Instructions per request in the app, counted by Valgrind: a figure the neighbours on a shared machine
cannot move, unlike req/s or CPU time.

    python -m benchmarks.instructions [--jobs mnist logistic] [--apps ours naive]   (needs valgrind)

Runs benchmarks/profile_hot_path.py under ``valgrind --tool=cachegrind`` twice per app and job, with
600 and 100 requests after the same warm-up, and divides the difference by 500: start-up cancels out.
Torch runs on one thread and str hashing is seeded, so a rerun agrees to within a few hundred
instructions. What is counted is the app, from the ASGI call to the response (uvicorn is not), including
our request log line; the naive peer's log line is uvicorn's and is not.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from benchmarks.processes import ROOT

_COUNTS = (100, 600)


def instructions(app: str, job: str, requests: int) -> int:
    """Every instruction the process runs: start-up, warm-up, then ``requests`` requests."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    command = [
        *("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"),
        *(sys.executable, "-m", "benchmarks.profile_hot_path", job, "--app", app),
        *("--requests", str(requests)),
    ]
    run = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", run.stderr).group(1).replace(",", ""))


def per_request(app: str, job: str) -> float:
    with ThreadPoolExecutor(len(_COUNTS)) as pool:  # the two runs side by side: a minute, not two
        few, many = pool.map(lambda count: instructions(app, job, count), _COUNTS)
    return (many - few) / (_COUNTS[1] - _COUNTS[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", nargs="+", choices=["mnist", "logistic"], default=["mnist", "logistic"])
    parser.add_argument("--apps", nargs="+", choices=["ours", "naive"], default=["ours", "naive"])
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt install valgrind)")
    counts = {}
    for job in args.jobs:
        for app in args.apps:
            counts[app, job] = per_request(app, job)
            print(f"{app:<6} {job:<9} {counts[app, job] / 1000:8.1f} k instructions per request", flush=True)
    for job in args.jobs:
        if ("ours", job) in counts and ("naive", job) in counts:
            print(f"ours / naive {job}: {counts['ours', job] / counts['naive', job]:.2f}x the instructions")


if __name__ == "__main__":
    main()
