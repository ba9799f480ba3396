"""This service beside the serving frameworks in one run: req/s, p99 and requests per CPU-second.

    python -m benchmarks.peers.bench [--duration 10] [--rounds 2] [--servers ours kserve ...]
    make bench-peers

Every server (benchmarks/peers/frameworks.py) runs on loopback for the whole run, one worker or replica
each, on the committed checkpoints (model_repository/). Each framework runs from its own virtual
environment (benchmarks/peers/envs.py makes them on first use). Before anything is timed, each peer must
give bit-identical probabilities to ours on real MNIST test digits (--data-root) and on a set of feature
pairs; a peer that fails to install, start or agree is reported and left out, and the rest go on.

Then the idle cost of each (CPU over --idle seconds with no requests, resident memory of all its
processes), and the timed cells: wrk (benchmarks/loadgen.py) for --duration seconds per job and server,
one server after another, in reverse order every other round, as benchmarks/serve.py does. The table
gives each figure as the median over the rounds and each ratio to ours as the median of the per-round
ratios: the machine may be shared, and only ratios measured seconds apart mean much.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

from PIL import Image

from benchmarks.fixtures import Job
from benchmarks.loadgen import require_wrk
from benchmarks.peers import envs
from benchmarks.peers.frameworks import SERVERS, Server
from benchmarks.peers.identity import differences, read_idx_images
from benchmarks.processes import ROOT, _tree, cpu_seconds, free_port, running_server
from benchmarks.serve import Result, measure, print_table

FEATURES = [[4.0, 3.0], [1.0, 2.0], [0.0, 0.0], [-3.5, 7.25], [10.0, -10.0], [2.5, 2.5], [1e3, -2e3]]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def digit_pngs(data_root: Path, count: int) -> list[bytes]:
    """The first ``count`` MNIST test digits, each as the 28x28 PNG a user would upload."""
    raw = data_root / "MNIST" / "raw"
    path = next(p for p in (raw / "t10k-images-idx3-ubyte", raw / "t10k-images-idx3-ubyte.gz") if p.exists())
    pngs = []
    for pixels in read_idx_images(path, count):
        buffer = io.BytesIO()
        Image.frombytes("L", (28, 28), pixels).save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    return pngs


def ask(server: Server, port: int, job: str, sample: object) -> list[float]:
    call = getattr(server, job)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{call.path}",
        data=call.request_body(sample),
        headers={"Content-Type": call.content_type},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return [float(v) for v in call.probabilities(json.loads(response.read()))]


def warm_up(server: Server, port: int, sample: bytes, timeout: float = 180.0) -> None:
    """Until ``server`` answers: some say ready (TorchServe's /ping) before their model workers are."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ask(server, port, "mnist", sample)
            return
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def disagreements(server: Server, port: int, ours_port: int, pngs: list[bytes]) -> list[str]:
    """Every sample on which ``server`` does not give ours' probabilities bit for bit."""
    warm_up(server, port, pngs[0])
    found = []
    for job, samples in (("mnist", pngs), ("logistic", FEATURES)):
        for index, sample in enumerate(samples):
            ours = ask(SERVERS["ours"], ours_port, job, sample)
            theirs = ask(server, port, job, sample)
            found += [f"{job} sample {index} {d}" for d in differences(ours, theirs)]
    return found


def rss_mib(pid: int) -> float:
    total = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError, StopIteration):
            status = Path(f"/proc/{member}/status").read_text().splitlines()
            total += int(next(line for line in status if line.startswith("VmRSS:")).split()[1])
    return total / 1024


def idle_cost(running: dict[str, tuple[int, int]], seconds: float) -> dict[str, tuple[float, float, int]]:
    """name -> (cores used while idle, resident MiB of all its processes, process count), all at once."""
    before = {name: cpu_seconds(pid) for name, (pid, _) in running.items()}
    started = time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    return {
        name: ((cpu_seconds(pid) - before[name]) / elapsed, rss_mib(pid), len(_tree(pid)))
        for name, (pid, _) in running.items()
    }


def start(server: Server, workdir: Path, stack: contextlib.ExitStack, attempt: int = 1) -> tuple[int, int]:
    python = envs.ensure(server.venv) if server.venv else Path(sys.executable)
    folder = workdir / server.name / str(attempt)
    folder.mkdir(parents=True)
    if server.prepare:
        server.prepare(python, folder)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **server.env(folder, port)}
    env.setdefault("SERVE_MNIST_CHECKPOINT", str(ROOT / "model_repository/mnist/1.pt"))
    env.setdefault("SERVE_LOGISTIC_CHECKPOINT", str(ROOT / "model_repository/logistic/1.pt"))
    argv = server.command(python, folder, port)
    pid = stack.enter_context(
        running_server(
            argv,
            port,
            env=env,
            cwd=folder,
            ready_path=server.ready_path,
            ready_timeout=server.ready_timeout,
            log=workdir / f"{server.name}.log",
        )
    )
    return pid, port


def start_with_retries(server: Server, workdir: Path, stack: contextlib.ExitStack) -> tuple[int, int]:
    """``start``, tried ``server.start_attempts`` times: a Ray node gives its agents fixed times to start,
    which a busy machine can miss, and the next try often makes it."""
    for attempt in range(1, server.start_attempts + 1):
        try:
            return start(server, workdir, stack, attempt)
        except (RuntimeError, TimeoutError):
            if attempt == server.start_attempts:
                raise
            print(f"{server.name}: start {attempt} failed, trying again", file=sys.stderr)
    raise AssertionError("unreachable")


def summary(results: list[Result], idle: dict[str, tuple[float, float, int]]) -> None:
    """The README's table: medians over rounds, ratios to ours as medians of the per-round ratios."""
    cells = {(r.server, r.job, r.round): r for r in results}
    names = list(dict.fromkeys(r.server for r in results))
    rounds = sorted({r.round for r in results})
    print(
        "\n| server | job | req/s | vs ours | p99 ms | cores | req/CPU-s | vs ours "
        "| idle cores | RSS MiB | processes |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for job in ("mnist", "logistic"):
        for name in names:
            mine = [cells[name, job, n] for n in rounds if (name, job, n) in cells]
            if not mine:
                continue
            pairs = [
                (cells[name, job, n], cells["ours", job, n]) for n in rounds if ("ours", job, n) in cells
            ]
            pairs = [(a, b) for a, b in pairs if a.round == b.round and (name, job, a.round) in cells]
            throughput = (
                statistics.median(a.load.rps / b.load.rps for a, b in pairs) if pairs else float("nan")
            )
            per_core = (
                statistics.median(a.per_core / b.per_core for a, b in pairs if b.per_core)
                if pairs
                else float("nan")
            )
            cores, rss, processes = idle.get(name, (float("nan"), float("nan"), 0))
            errors = sum(r.load.errors for r in mine)
            print(
                f"| {name} | {job} | {statistics.median(r.load.rps for r in mine):,.0f} | {throughput:.2f} "
                f"| {statistics.median(r.load.p99_ms for r in mine):.1f} "
                f"| {statistics.median(r.cores for r in mine):.2f} "
                f"| {statistics.median(r.per_core for r in mine):,.0f} | {per_core:.2f} "
                f"| {cores:.3f} | {rss:,.0f} | {processes} |" + (f" {errors} errors" if errors else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell (default: 10)")
    parser.add_argument("--concurrency", type=int, default=16, help="wrk connections (default: 16)")
    parser.add_argument("--rounds", type=int, default=2, help="the whole plan, repeated (default: 2)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement (default: 10)")
    parser.add_argument("--digits", type=int, default=100, help="real digits checked per peer (default: 100)")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA, help="holds MNIST/raw")
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS))
    args = parser.parse_args()
    require_wrk()
    # Stopped by SIGTERM (a timeout, CI), still stop every server: the ExitStack below unwinds on SystemExit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = ["ours", *[name for name in args.servers if name != "ours"]]
    pngs = digit_pngs(args.data_root, args.digits)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        running: dict[str, tuple[int, int]] = {}
        left_out: dict[str, str] = {}
        for name in names:
            try:
                running[name] = start_with_retries(SERVERS[name], workdir, stack)
            except Exception as exc:  # one framework's failure leaves the others to compare
                log = workdir / f"{name}.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                left_out[name] = f"did not start: {exc!r}"
                print(f"{name}: {left_out[name]}\n{tail}", file=sys.stderr)
                if name == "ours":
                    raise
                continue
            if name != "ours":
                try:
                    found = disagreements(SERVERS[name], running[name][1], running["ours"][1], pngs)
                except Exception:
                    found = [traceback.format_exc(limit=2)]
                if found:
                    left_out[name] = f"not bit-identical to ours: {'; '.join(found[:3])}"
                    del running[name]
                    print(f"{name}: {left_out[name]}", file=sys.stderr)
                    continue
            print(
                f"{name}: ready, bit-identical on {len(pngs)} digits and {len(FEATURES)} feature pairs",
                file=sys.stderr,
            )

        idle = idle_cost(running, args.idle)
        results = []
        jobs = {
            name: {
                job: Job(
                    job,
                    getattr(SERVERS[name], job).path,
                    getattr(SERVERS[name], job).request_body(pngs[0] if job == "mnist" else FEATURES[0]),
                    getattr(SERVERS[name], job).content_type,
                )
                for job in ("mnist", "logistic")
            }
            for name in running
        }
        for round_ in range(args.rounds):
            for job in ("mnist", "logistic"):
                for name in list(running)[:: 1 if round_ % 2 == 0 else -1]:
                    pid, port = running[name]
                    result = measure(
                        name, pid, port, jobs[name][job], args.concurrency, args.duration, round_
                    )
                    print(f"  round {round_ + 1}: {name} {job}: {result.load.rps:.0f} req/s", file=sys.stderr)
                    results.append(result)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print_table(results)
    summary(results, idle)
    for name, reason in left_out.items():
        print(f"left out: {name}: {reason}")


if __name__ == "__main__":
    main()
