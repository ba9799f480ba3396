"""Serving throughput and latency: this service beside its peers, one after another, in ONE run.

    python benchmarks/serve_bench.py [--duration 10] [--concurrency 16]

Starts each server on loopback (one uvicorn worker each), loads it with wrk (benchmarks/wrk/post_body.lua)
and prints req/s, p50, p99 and the CPU cores the server's processes used, then the ratios the targets are
stated in. Servers, all on the same checkpoints and the same 28x28 PNG:

* ours            ``serve`` with every production feature on (validation, metrics, request logs);
* naive           benchmarks/peers/naive_server.py (UploadFile -> PIL -> /255 -> Linear -> softmax);
* litserve        benchmarks/peers/litserve_server.py, default settings (skipped if litserve is absent);
* ours, batching  ``serve`` with SERVE_BATCHING=true, against ours without, at --batch-concurrency.

The machine is shared, so only ratios measured side by side in one run mean anything: the plan runs
--rounds times, interleaved, and the ratios use each server's best round. req/cpu-s (throughput per CPU
second the server's processes used) is the least noisy figure when neighbours take CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import write_fixtures
from benchmarks.processes import cpu_seconds, running_server

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "benchmarks" / "wrk" / "post_body.lua"


@dataclass(frozen=True)
class Job:
    name: str
    path: str
    body: Path
    content_type: str


@dataclass(frozen=True)
class Result:
    server: str
    job: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cores: float
    failures: int

    @property
    def per_core(self) -> float:
        """Requests per CPU-second: what the server itself costs, whatever else the machine runs."""
        return self.rps / self.cores if self.cores else 0.0


def wrk(port: int, job: Job, *, concurrency: int, seconds: int) -> dict:
    env = {**os.environ, "WRK_BODY_FILE": str(job.body), "WRK_CONTENT_TYPE": job.content_type}
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", str(LUA)]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{job.path}"], env=env, capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    return json.loads(line.removeprefix("WRK_JSON "))


def measure(server: str, pid: int, port: int, job: Job, concurrency: int, seconds: int) -> Result:
    wrk(port, job, concurrency=concurrency, seconds=min(2, seconds))  # warm-up: caches, allocator, JIT
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    stats = wrk(port, job, concurrency=concurrency, seconds=seconds)
    cores = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - started)
    return Result(
        server=server,
        job=job.name,
        concurrency=concurrency,
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        cores=cores,
        failures=stats["non_2xx"] + stats["socket_errors"],
    )


def print_table(results: list[Result]) -> None:
    print(
        f"\n{'server':<16}{'job':<10}{'conc':>5}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cores':>7}{'fail':>6}"
    )
    for r in results:
        print(
            f"{r.server:<16}{r.job:<10}{r.concurrency:>5}{r.rps:>9.0f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
            f"{r.cores:>7.2f}{r.per_core:>10.0f}{r.failures:>6}"
        )


def print_ratios(results: list[Result]) -> None:
    by_key: dict[tuple, Result] = {}
    for r in results:  # best of the rounds: on a shared machine the slow runs measure the neighbours
        key = (r.server, r.job, r.concurrency)
        if key not in by_key or r.rps > by_key[key].rps:
            by_key[key] = r
    results = list(by_key.values())
    print()
    for numerator, denominator, job, target in (
        ("ours", "naive", "mnist", "target >= 0.90"),
        ("ours", "naive", "logistic", "target >= 0.90"),
        ("ours", "litserve", "mnist", "target >= 2.00"),
        ("ours+batching", "ours", "mnist", "batching on / off"),
        ("ours+batching", "ours", "logistic", "batching on / off"),
    ):
        pairs = [
            (r, by_key.get((denominator, job, r.concurrency)))
            for r in results
            if r.server == numerator and r.job == job
        ]
        for top, bottom in pairs:
            if bottom is not None:
                print(
                    f"{numerator} / {denominator} {job} @{top.concurrency}: "
                    f"throughput {top.rps / bottom.rps:.2f}x, "
                    f"p50 {top.p50_ms / bottom.p50_ms:.2f}x, req/cpu-s {top.per_core / bottom.per_core:.2f}x "
                    f"({target})"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="the whole plan, interleaved; best is kept")
    parser.add_argument("--port", type=int, default=18700)
    parser.add_argument("--skip", nargs="*", default=[], choices=["naive", "litserve", "batching"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        mnist = Job("mnist", "/predict/mnist", fixtures.multipart, fixtures.multipart_content_type)
        logistic = Job("logistic", "/predict/logistic", fixtures.features_json, "application/json")
        env = {**os.environ, **fixtures.env}
        python = sys.executable
        ours = [python, "-m", "app.cli", "--port", "{port}"]
        naive = [python, "-m", "uvicorn", "benchmarks.peers.naive_server:app", "--port", "{port}"]
        litserve = [python, str(ROOT / "benchmarks/peers/litserve_server.py"), "--port", "{port}"]
        plan = [("ours", ours, {}, [mnist, logistic], [args.concurrency])]
        if "naive" not in args.skip:
            plan.append(("naive", naive, {}, [mnist, logistic], [args.concurrency]))
        if "litserve" not in args.skip:
            if importlib.util.find_spec("litserve") is None:
                print(
                    "litserve is not installed (pip install '.[bench]'): skipping its peer", file=sys.stderr
                )
            else:
                plan.append(("litserve", litserve, {}, [mnist], [args.concurrency]))
        if "batching" not in args.skip:
            plan[0] = ("ours", ours, {}, [mnist, logistic], [args.concurrency, args.batch_concurrency])
            plan.append(
                (
                    "ours+batching",
                    ours,
                    {"SERVE_BATCHING": "true"},
                    [mnist, logistic],
                    [args.batch_concurrency],
                )
            )

        results = []
        for index, (name, command, extra_env, jobs, concurrencies) in enumerate(plan * args.rounds):
            port = args.port + index % len(plan)
            argv = [part.format(port=port) for part in command]
            with running_server(argv, port, env={**env, **extra_env}, cwd=ROOT) as pid:
                for job in jobs:
                    for concurrency in concurrencies:
                        result = measure(name, pid, port, job, concurrency, args.duration)
                        print(f"  {name} {job.name} @{concurrency}: {result.rps:.0f} req/s", file=sys.stderr)
                        results.append(result)
        print_table(results)
        print_ratios(results)


if __name__ == "__main__":
    main()
