"""Instructions per request, counted by Valgrind: a figure the neighbours on a shared machine cannot move,
unlike req/s or CPU time.

    python -m benchmarks.instructions [--scope app|server] [--jobs mnist logistic] [--apps ours naive]
    python -m benchmarks.instructions --baseline ../wt-base [--scope app|server] [--jobs ...]


Each app and job runs twice under ``valgrind --tool=cachegrind``, with 100 and 600 requests after the same
warm-up, and the difference is divided by 500: start-up cancels out. Torch runs on one thread and str
hashing is seeded, so a rerun agrees to within a few hundred instructions (needs valgrind).

* ``--scope app`` (default): the ASGI app called in-process (benchmarks/profile_hot_path.py), from the
  call to the response, including our request log line. The naive peer's log line is uvicorn's, so it
  is not counted: use this scope to find what a change in the app costs.
* ``--scope server``: the whole server process as ``benchmarks.serve`` starts it, with uvicorn's HTTP
  handling and each server's own request log, sent the requests one after another over one keep-alive
  connection. This is the like-for-like comparison with the naive peer.

``--baseline DIR`` counts ours in this checkout and in another checkout of the project, for example a
``git worktree add --detach ../wt-base 423615a``, with this Python, and prints the change per request.
The other checkout runs its own app (and, in the app scope, its own profile_hot_path.py, from its
folder); in the server scope it serves its own committed checkpoints (an older checkout cannot read
today's), and both get this checkout's requests.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.fixtures import Job, without_peer_checkpoints, write_fixtures
from benchmarks.processes import ROOT, free_port, server_argv, wait_ready

_COUNTS = (100, 600)
_WARM_UP = 200
_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "SERVE_DEVICE": "cpu"}


def _valgrind(*options: str) -> list[str]:
    return ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *options]


def _total(valgrind_log: str) -> int:
    return int(re.search(r"I\s+refs:\s+([\d,]+)", valgrind_log).group(1).replace(",", ""))


def app_instructions(app: str, job: str, requests: int, root: Path = ROOT) -> int:
    """Every instruction the process runs: start-up, warm-up, then ``requests`` requests to the ASGI app."""
    command = [
        *_valgrind(),
        *(sys.executable, "-m", "benchmarks.profile_hot_path", job, "--app", app),
        *("--requests", str(requests)),
    ]
    env = {**os.environ, **_ENV}
    run = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, check=True)
    return _total(run.stderr)


def server_instructions(app: str, job: str, requests: int, root: Path = ROOT) -> int:
    """Every instruction the server process runs: start-up, warm-up, ``requests`` requests, shutdown."""
    with tempfile.TemporaryDirectory(prefix="instructions-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        port = free_port()
        env = {**os.environ, **fixtures.env, **_ENV}
        log_file = f"{tmp}/valgrind.log"  # apart from the server's own output, which goes nowhere
        server = subprocess.Popen(
            [*_valgrind(f"--log-file={log_file}"), *server_argv(app, port)],
            env=env if root == ROOT else without_peer_checkpoints(env),
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, server, timeout=600)
            _send(port, fixtures.jobs[job], _WARM_UP + requests)
        finally:
            server.send_signal(signal.SIGINT)  # uvicorn's graceful stop; valgrind then writes its totals
            server.wait(timeout=600)
        return _total(Path(log_file).read_text())


def _send(port: int, job: Job, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for _ in range(count):
            connection.request("POST", job.path, body=job.body, headers={"content-type": job.content_type})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{job.path} answered {response.status}")
    finally:
        connection.close()


def per_request(scope: str, app: str, job: str, root: Path = ROOT) -> float:
    instructions = app_instructions if scope == "app" else server_instructions
    with ThreadPoolExecutor(len(_COUNTS)) as pool:  # the two runs side by side: a minute, not two
        few, many = pool.map(lambda requests: instructions(app, job, requests, root), _COUNTS)
    return (many - few) / (_COUNTS[1] - _COUNTS[0])


def compare(scope: str, jobs: list[str], baseline: Path) -> None:
    """Ours here against ours in ``baseline`` (another checkout), job by job: before, after, change."""
    for job in jobs:
        before = per_request(scope, "ours", job, baseline)
        after = per_request(scope, "ours", job)
        print(
            f"{job:<9} before {before / 1000:8.1f} k  after {after / 1000:8.1f} k  "
            f"change {(after / before - 1) * 100:+6.1f} %  ({scope} scope; before: {baseline})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scope", choices=["app", "server"], default="app")
    parser.add_argument("--jobs", nargs="+", choices=["mnist", "logistic"], default=["mnist", "logistic"])
    parser.add_argument("--apps", nargs="+", choices=["ours", "naive"], default=["ours", "naive"])
    parser.add_argument("--baseline", type=Path, help="another checkout: compare ours there and here")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt install valgrind)")
    if args.baseline is not None:
        compare(args.scope, args.jobs, args.baseline.resolve())
        return
    counts = {}
    for job in args.jobs:
        for app in args.apps:
            counts[app, job] = per_request(args.scope, app, job)
            print(f"{app:<6} {job:<9} {counts[app, job] / 1000:8.1f} k instructions per request", flush=True)
    for job in args.jobs:
        if ("ours", job) in counts and ("naive", job) in counts:
            print(f"ours / naive {job}: {counts['ours', job] / counts['naive', job]:.2f}x the instructions")


if __name__ == "__main__":
    main()
