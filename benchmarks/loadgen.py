"""Load generation against an HTTP endpoint: wrk when installed, else a small asyncio httpx client.

    result = run_load(url, body, content_type, connections=16, duration_s=10)
    result.rps, result.p50_ms, result.p90_ms, result.p99_ms, result.errors, result.tool

wrk is preferred: a Python client on a couple of cores saturates before the server does.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# wrk posts the body from a file and reports its latency histogram as one JSON line at the end.
_WRK_SCRIPT = """
local f = assert(io.open(%(body_path)s, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = %(content_type)s
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%f, "errors": %%d, "p50": %%f, "p90": %%f, "p99": %%f}\\n',
    summary.requests, summary.duration / 1e6, errors,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3))
end
"""


@dataclass(frozen=True)
class LoadResult:
    tool: str
    connections: int
    requests: int
    errors: int  # connection errors, timeouts and non-2xx answers
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float


def run_load(
    url: str,
    body: bytes,
    content_type: str,
    *,
    connections: int,
    duration_s: float = 10.0,
    threads: int = 2,
) -> LoadResult:
    """POST ``body`` to ``url`` from ``connections`` concurrent clients for ``duration_s`` seconds."""
    if shutil.which("wrk"):
        return _run_wrk(url, body, content_type, connections, duration_s, threads)
    return asyncio.run(_run_httpx(url, body, content_type, connections, duration_s))


def _run_wrk(
    url: str, body: bytes, content_type: str, connections: int, duration_s: float, threads: int
) -> LoadResult:
    with tempfile.TemporaryDirectory() as tmp:
        body_path, script_path = Path(tmp, "body"), Path(tmp, "post.lua")
        body_path.write_bytes(body)
        script_path.write_text(
            _WRK_SCRIPT % {"body_path": json.dumps(str(body_path)), "content_type": json.dumps(content_type)}
        )
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(duration_s))}s",
                "--timeout",
                "10s",
                "-s",
                str(script_path),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration_s + 60,
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    r = json.loads(line.removeprefix("RESULT "))
    # wrk counts non-2xx answers apart from socket errors; both mean the measurement is not clean.
    non_2xx = next((int(x.split(":")[1]) for x in out.splitlines() if "Non-2xx" in x), 0)
    return LoadResult(
        "wrk",
        connections,
        r["requests"],
        r["errors"] + non_2xx,
        r["requests"] / r["seconds"],
        r["p50"],
        r["p90"],
        r["p99"],
    )


async def _run_httpx(
    url: str, body: bytes, content_type: str, connections: int, duration_s: float
) -> LoadResult:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:

        async def worker() -> None:
            nonlocal errors
            while (start := time.perf_counter()) < deadline:
                try:
                    response = await client.post(url, content=body, headers={"content-type": content_type})
                    errors += not response.is_success
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else float("nan")
        )

    return LoadResult(
        "httpx", connections, len(latencies), errors, len(latencies) / elapsed, pct(0.5), pct(0.9), pct(0.99)
    )
