"""wrk, the load generator every serving benchmark here uses: POST one body for a while, get the figures.

    result = run_load(url, body, content_type, connections=16, duration_s=10)
    result.rps, result.p50_ms, result.p90_ms, result.p99_ms, result.errors

wrk rather than a Python client: on a couple of cores a Python client saturates before the server does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk posts the body from a file and reports its figures as one JSON line from its done() hook.
_WRK_SCRIPT = """
local f = assert(io.open(%(body_path)s, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = %(content_type)s
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%f, "errors": %%d, "p50": %%f, "p90": %%f, "p99": %%f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3))
end
"""


@dataclass(frozen=True)
class LoadResult:
    connections: int
    requests: int
    errors: int  # socket errors, timeouts and answers >= 400: any of them spoils the measurement
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")


def run_load(
    url: str,
    body: bytes,
    content_type: str,
    *,
    connections: int,
    duration_s: float = 10.0,
    threads: int = 1,
) -> LoadResult:
    """POST ``body`` to ``url`` from ``connections`` concurrent connections for ``duration_s`` seconds.

    One wrk thread by default: on a small machine every client thread is a core taken from the server.
    """
    with tempfile.TemporaryDirectory() as tmp:
        body_path, script_path = Path(tmp, "body"), Path(tmp, "post.lua")
        body_path.write_bytes(body)
        script_path.write_text(
            _WRK_SCRIPT % {"body_path": json.dumps(str(body_path)), "content_type": json.dumps(content_type)}
        )
        command = [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
        ]
        out = subprocess.run(
            [*command, "--timeout", "10s", "-s", str(script_path), url],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration_s + 60,
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    r = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        connections, r["requests"], r["errors"], r["requests"] / r["seconds"], r["p50"], r["p90"], r["p99"]
    )
