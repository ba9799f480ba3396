"""Serving throughput and latency: this service beside its peers, one after another, in ONE run.

    python -m benchmarks.serve [--duration 10] [--concurrency 16 64] [--rounds 2] [--skip litserve ...]

Starts each server on loopback (one uvicorn worker each), loads it with wrk (benchmarks/loadgen.py) and
prints req/s, p50/p90/p99 and the CPU cores the server's processes used, then the ratios the targets are
stated in. Servers, all on the same checkpoints and the same 28x28 PNG:

* ours            ``serve`` with every production feature on (validation, metrics, request logs);
* naive           benchmarks/peers/naive_server.py (UploadFile -> PIL -> /255 -> Linear -> softmax);
* litserve        benchmarks/peers/litserve_server.py, default settings (skipped if litserve is absent);
* ours+batching   ``serve`` with SERVE_BATCHING=true, at the highest concurrency only.

The machine may be shared, so only ratios measured side by side in one run mean anything: the plan runs
--rounds times, interleaved, and the ratios use each server's best round. req/cpu-s (throughput per CPU
second the server's processes used) is the least noisy figure when neighbours take CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import FEATURES_JSON, MULTIPART_CONTENT_TYPE, write_fixtures
from benchmarks.loadgen import LoadResult, require_wrk, run_load
from benchmarks.processes import ROOT, cpu_seconds, free_port, running_server

RATIOS = (  # numerator, denominator, job, what the ratio is held to
    ("ours", "naive", "mnist", "target >= 0.90"),
    ("ours", "naive", "logistic", "target >= 0.90"),
    ("ours", "litserve", "mnist", "target >= 2.00"),
    ("ours+batching", "ours", "mnist", "batching on / off"),
    ("ours+batching", "ours", "logistic", "batching on / off"),
)


@dataclass(frozen=True)
class Job:
    name: str
    path: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Result:
    server: str
    job: str
    load: LoadResult
    cores: float

    @property
    def per_core(self) -> float:
        """Requests per CPU-second: what the server itself costs, whatever else the machine runs."""
        return self.load.rps / self.cores if self.cores else 0.0


def measure(server: str, pid: int, port: int, job: Job, concurrency: int, seconds: int) -> Result:
    url = f"http://127.0.0.1:{port}{job.path}"
    run_load(url, job.body, job.content_type, connections=concurrency, duration_s=min(2, seconds))  # warm-up
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    load = run_load(url, job.body, job.content_type, connections=concurrency, duration_s=seconds)
    cores = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - started)
    return Result(server, job.name, load, cores)


def print_table(results: list[Result]) -> None:
    print(
        f"\n{'server':<15}{'job':<10}{'conc':>5}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}"
        f"{'cores':>7}{'req/cpu-s':>10}{'errors':>7}"
    )
    for r in results:
        load = r.load
        print(
            f"{r.server:<15}{r.job:<10}{load.connections:>5}{load.rps:>8.0f}{load.p50_ms:>8.1f}"
            f"{load.p90_ms:>8.1f}{load.p99_ms:>8.1f}{r.cores:>7.2f}{r.per_core:>10.0f}{load.errors:>7}"
        )


def print_ratios(results: list[Result]) -> None:
    best: dict[tuple, Result] = {}
    for r in results:  # best of the rounds: on a shared machine the slow runs measure the neighbours
        key = (r.server, r.job, r.load.connections)
        if key not in best or r.load.rps > best[key].load.rps:
            best[key] = r
    print()
    concurrencies = sorted({concurrency for _, _, concurrency in best})
    for numerator, denominator, job, target in RATIOS:
        for concurrency in concurrencies:
            top, bottom = best.get((numerator, job, concurrency)), best.get((denominator, job, concurrency))
            if top is None or bottom is None:
                continue
            print(
                f"{numerator} / {denominator} {job} @{concurrency}: "
                f"throughput {top.load.rps / bottom.load.rps:.2f}x, "
                f"p50 {top.load.p50_ms / bottom.load.p50_ms:.2f}x, "
                f"req/cpu-s {top.per_core / bottom.per_core:.2f}x ({target})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default: 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rounds", type=int, default=2, help="the whole plan, interleaved; best is kept")
    parser.add_argument("--skip", nargs="*", default=[], choices=["naive", "litserve", "batching"])
    args = parser.parse_args()
    require_wrk()

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        mnist = Job("mnist", "/predict/mnist", fixtures.multipart, MULTIPART_CONTENT_TYPE)
        logistic = Job("logistic", "/predict/logistic", FEATURES_JSON, "application/json")
        env = {**os.environ, **fixtures.env, "SERVE_DEVICE": "cpu"}
        python = sys.executable
        ours = [python, "-m", "app.cli", "--port", "{port}"]
        naive = [python, "-m", "uvicorn", "benchmarks.peers.naive_server:app", "--port", "{port}"]
        litserve = [python, str(ROOT / "benchmarks/peers/litserve_server.py"), "--port", "{port}"]
        # (server, command, extra environment, jobs, concurrencies)
        plan = [("ours", ours, {}, [mnist, logistic], args.concurrency)]
        if "naive" not in args.skip:
            plan.append(("naive", naive, {}, [mnist, logistic], args.concurrency))
        if "litserve" not in args.skip:
            if importlib.util.find_spec("litserve") is None:
                print("litserve is not installed (pip install '.[bench]'): no LitServe peer", file=sys.stderr)
            else:
                plan.append(("litserve", litserve, {}, [mnist], args.concurrency))
        if "batching" not in args.skip:
            batching_env = {"SERVE_BATCHING": "true"}
            plan.append(("ours+batching", ours, batching_env, [mnist, logistic], [max(args.concurrency)]))

        results = []
        for name, command, extra_env, jobs, concurrencies in plan * args.rounds:
            port = free_port()
            argv = [part.format(port=port) for part in command]
            with running_server(argv, port, env={**env, **extra_env}) as pid:
                for job in jobs:
                    for concurrency in concurrencies:
                        result = measure(name, pid, port, job, concurrency, args.duration)
                        print(
                            f"  {name} {job.name} @{concurrency}: {result.load.rps:.0f} req/s",
                            file=sys.stderr,
                        )
                        results.append(result)
        print_table(results)
        print_ratios(results)


if __name__ == "__main__":
    main()
