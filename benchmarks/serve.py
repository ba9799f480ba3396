"""Serving throughput and latency: this service beside its peers, one after another, in ONE run.

    python -m benchmarks.serve [--duration 10] [--concurrency 16 64] [--rounds 3] [--skip litserve ...]
    python -m benchmarks.serve --baseline ../wt-base [--skip naive litserve batching]

Starts each server on loopback (one uvicorn worker each), loads it with wrk (benchmarks/loadgen.py) and
prints req/s, p50/p90/p99 and the CPU cores the server's processes used, then the ratios the targets are
stated in. Servers, all on the same checkpoints and the same 28x28 PNG:

* ours            ``digit-serve`` with every production feature on (validation, metrics, request logs);
                  besides the multipart upload, it is sent the PNG as the raw body (job ``mnist-raw``);
* naive           benchmarks/peers/naive_server.py (UploadFile -> PIL -> /255 -> Linear -> softmax);
* litserve        benchmarks/peers/litserve_server.py, default settings (skipped if litserve is absent);
* ours+batching   ``digit-serve`` with SERVE_BATCHING=true, at the highest concurrency only;
* baseline        with ``--baseline DIR``: ``digit-serve`` of another checkout of this project (for example
                  ``git worktree add --detach ../wt-base 423615a``), run from its folder with this Python,
                  on its own committed checkpoints (older checkouts cannot read today's repository);
* floor           with ``--baseline DIR``: benchmarks/peers/floor_server.py, our servables and schemas as a
                  bare ASGI app under the same uvicorn: no framework, middleware or limits (a bound);
* floor@bare      the floor without uvicorn too: a bare httptools protocol (an HTTP front of our own);
* ...@granian     with ``--granian``: ours (and the floor) under granian instead of uvicorn, 1 worker.

The machine may be shared, so only ratios measured side by side in one run mean anything. Every server
runs for the whole benchmark (idle, each takes under 1 % of a core), and each cell (job, concurrency) is
measured on one server after another, in reverse order every other round: the two sides of a ratio are
seconds apart, so a busy neighbour tends to slow both. The plan runs --rounds times; each ratio is the
median over the rounds, printed with every round's value. req/cpu-s (throughput per CPU second the
server's processes used) is the least noisy figure when neighbours take CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import Job, without_peer_checkpoints, write_fixtures
from benchmarks.loadgen import LoadResult, require_wrk, run_load
from benchmarks.peers.frameworks import granian_prepare
from benchmarks.processes import ROOT, cpu_seconds, free_port, running_server, server_argv

RATIOS = (  # numerator, denominator, job (the numerator's/the denominator's), what the ratio is held to
    ("ours", "naive", "mnist", "target >= 0.90"),
    ("ours", "naive", "logistic", "target >= 0.90"),
    ("ours", "litserve", "mnist", "target >= 2.00"),
    ("ours+batching", "ours", "mnist", "batching on / off"),
    ("ours+batching", "ours", "logistic", "batching on / off"),
    ("ours", "baseline", "mnist", "issue 16: target >= 1.75"),
    # One PNG sent the way each takes it best: ours as the raw body, 423615a's as a multipart upload.
    ("ours", "baseline", "mnist-raw/mnist", "issue 16: target >= 1.75"),
    ("ours", "baseline", "logistic", "issue 16: target >= 2.00"),
    ("floor", "baseline", "mnist-raw/mnist", "no framework: the most a leaner front end could give"),
    ("floor", "baseline", "logistic", "no framework: the most a leaner front end could give"),
    ("floor@bare", "baseline", "mnist-raw/mnist", "no framework, no uvicorn: an HTTP front of our own"),
    ("floor@bare", "baseline", "logistic", "no framework, no uvicorn: an HTTP front of our own"),
    ("floor@bare", "floor", "logistic", "bare httptools front / uvicorn"),
    ("ours@granian", "ours", "mnist-raw", "granian / uvicorn"),
    ("ours@granian", "ours", "logistic", "granian / uvicorn"),
    ("floor@granian", "floor", "mnist-raw", "granian / uvicorn"),
    ("floor@granian", "floor", "logistic", "granian / uvicorn"),
)


@dataclass(frozen=True)
class Result:
    server: str
    job: str
    round: int
    load: LoadResult
    cores: float

    @property
    def per_core(self) -> float:
        """Requests per CPU-second: what the server itself costs, whatever else the machine runs."""
        return self.load.rps / self.cores if self.cores else 0.0


def measure(
    server: str, pid: int, port: int, job: Job, concurrency: int, seconds: int, round_: int
) -> Result:
    url = f"http://127.0.0.1:{port}{job.path}"
    run_load(url, job.body, job.content_type, connections=concurrency, duration_s=min(2, seconds))  # warm-up
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    load = run_load(url, job.body, job.content_type, connections=concurrency, duration_s=seconds)
    cores = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - started)
    return Result(server, job.name, round_, load, cores)


def print_table(results: list[Result]) -> None:
    print(
        f"\n{'round':<6}{'server':<15}{'job':<10}{'conc':>5}{'req/s':>8}"
        f"{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'cores':>7}{'req/cpu-s':>10}{'errors':>7}"
    )
    for r in results:
        load = r.load
        print(
            f"{r.round + 1:<6}{r.server:<15}{r.job:<10}{load.connections:>5}{load.rps:>8.0f}"
            f"{load.p50_ms:>8.1f}{load.p90_ms:>8.1f}{load.p99_ms:>8.1f}{r.cores:>7.2f}{r.per_core:>10.0f}"
            f"{load.errors:>7}"
        )


def print_ratios(results: list[Result]) -> None:
    """Each target's ratio, round by round (both sides measured seconds apart), and its median."""
    cells = {(r.server, r.job, r.load.connections, r.round): r for r in results}
    print()
    for numerator, denominator, job, target in RATIOS:
        top_job, _, bottom_job = job.partition("/")
        bottom_job = bottom_job or top_job
        for concurrency in sorted({r.load.connections for r in results}):
            pairs = [
                (top, bottom)
                for round_ in sorted({r.round for r in results})
                if (top := cells.get((numerator, top_job, concurrency, round_)))
                and (bottom := cells.get((denominator, bottom_job, concurrency, round_)))
            ]
            if not pairs:
                continue
            throughput = sorted(top.load.rps / bottom.load.rps for top, bottom in pairs)
            p50 = statistics.median(top.load.p50_ms / bottom.load.p50_ms for top, bottom in pairs)
            p99 = statistics.median(top.load.p99_ms / bottom.load.p99_ms for top, bottom in pairs)
            per_core = statistics.median(top.per_core / bottom.per_core for top, bottom in pairs)
            print(
                f"{numerator} / {denominator} {job} @{concurrency}: "
                f"throughput {statistics.median(throughput):.2f}x "
                f"(rounds {', '.join(f'{ratio:.2f}' for ratio in throughput)}), "
                f"p50 {p50:.2f}x, p99 {p99:.2f}x, req/cpu-s {per_core:.2f}x ({target})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default: 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rounds", type=int, default=3, help="the whole plan, repeated (default: 3)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["naive", "litserve", "batching", "floor"])
    parser.add_argument("--baseline", type=Path, help="another checkout of this project, served beside ours")
    parser.add_argument("--granian", action="store_true", help="ours (and the floor) under granian too")
    args = parser.parse_args()
    require_wrk()

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        mnist, mnist_raw, logistic = (fixtures.jobs[name] for name in ("mnist", "mnist-raw", "logistic"))
        env = {**os.environ, **fixtures.env, "SERVE_DEVICE": "cpu"}
        # name -> (server, extra environment, jobs, concurrencies, folder it runs in)
        plan = {"ours": ("ours", {}, [mnist, mnist_raw, logistic], args.concurrency, ROOT)}
        if args.baseline is not None:
            baseline = args.baseline.resolve()
            plan["baseline"] = ("ours", {}, [mnist, logistic], args.concurrency, baseline)
            if "floor" not in args.skip:
                plan["floor"] = ("floor", {}, [mnist_raw, logistic], args.concurrency, ROOT)
                plan["floor@bare"] = ("floor@bare", {}, [mnist_raw, logistic], args.concurrency, ROOT)
        if "naive" not in args.skip:
            plan["naive"] = ("naive", {}, [mnist, logistic], args.concurrency, ROOT)
        if "litserve" not in args.skip:
            if importlib.util.find_spec("litserve") is None:
                print("litserve is not installed (pip install '.[bench]'): no LitServe peer", file=sys.stderr)
            else:
                plan["litserve"] = ("litserve", {}, [mnist], args.concurrency, ROOT)
        if args.granian:
            granian_prepare(Path(sys.executable), Path(tmp))
            for name in [name for name in plan if name in ("ours", "floor")]:
                plan[f"{name}@granian"] = (f"{name}@granian", {}, *plan[name][2:])
        if "batching" not in args.skip:
            batching_env = {"SERVE_BATCHING": "true"}
            plan["ours+batching"] = ("ours", batching_env, [mnist, logistic], [max(args.concurrency)], ROOT)

        results = []
        with contextlib.ExitStack() as servers:
            running = {}  # name -> (pid, port)
            for name, (server, extra_env, _, _, folder) in plan.items():
                port = free_port()
                argv = server_argv(server, port, log_config=Path(tmp) / "log.json")
                server_env = {**env, **extra_env}
                if folder != ROOT:
                    server_env = without_peer_checkpoints(server_env)
                pid = servers.enter_context(running_server(argv, port, env=server_env, cwd=folder))
                running[name] = pid, port
            for round_ in range(args.rounds):
                for job in (mnist, mnist_raw, logistic):
                    for concurrency in args.concurrency:
                        # Every other round in reverse, so no server always goes first (or last).
                        for name in list(plan)[:: 1 if round_ % 2 == 0 else -1]:
                            _, _, jobs, concurrencies, _ = plan[name]
                            if job not in jobs or concurrency not in concurrencies:
                                continue
                            pid, port = running[name]
                            result = measure(name, pid, port, job, concurrency, args.duration, round_)
                            print(
                                f"  round {round_ + 1}: {name} {job.name} @{concurrency}: "
                                f"{result.load.rps:.0f} req/s",
                                file=sys.stderr,
                            )
                            results.append(result)
        print_table(results)
        print_ratios(results)


if __name__ == "__main__":
    main()
