"""`digit-serve` with its event loop watched: how long the loop went without turning, and why.

    python -m benchmarks.loop_monitor --port 8000      # any digit-serve arguments; one worker

A task in the worker's loop sleeps 1 ms at a time; a wake-up later than asked is a *lag*: the loop was
busy in one callback, or the process was not given a core. The process's CPU time over the same gap
tells the two apart: the *stall* is the lag capped at that CPU time, so a neighbour on a shared machine
that takes the core away adds to the lag but not to the stall. Garbage collections are timed too.
GET /_loop answers the figures since the previous call (worst and 99th percentile) and starts over.
Watching costs the worker about a thousand wake-ups a second: a benchmark tool, not a production one.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

INTERVAL = 0.001  # seconds between the watcher's wake-ups


def _worst(values: list[float]) -> dict[str, float]:
    cut = sorted(values) or [0.0]
    return {
        "max_ms": round(cut[-1] * 1e3, 2),
        "p99_ms": round(cut[min(len(cut) - 1, int(len(cut) * 0.99))] * 1e3, 2),
    }


class LoopWatch:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self.stalls: list[float] = []
        self.collections: list[tuple[int, float]] = []  # (generation, seconds)
        self._collecting_since = 0.0

    async def run(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(INTERVAL)
            lag = max(0.0, time.perf_counter() - wall - INTERVAL)
            self.lags.append(lag)
            self.stalls.append(min(lag, time.process_time() - cpu))

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._collecting_since = time.perf_counter()
        else:
            self.collections.append((info["generation"], time.perf_counter() - self._collecting_since))

    def report(self) -> dict:
        full = [seconds for generation, seconds in self.collections if generation == 2]
        figures = {
            "turns": len(self.lags),
            "lag": _worst(self.lags),
            "stall": _worst(self.stalls),
            "gc_max_ms": round(max((s for _, s in self.collections), default=0.0) * 1e3, 2),
            "full_collections": len(full),
        }
        self.lags, self.stalls, self.collections = [], [], []
        return figures


def watched_app(watch: LoopWatch):
    """app.main's app, with ``watch`` running while it serves and GET /_loop answering its report."""
    import app.main as served

    served_lifespan = served.app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app) -> AsyncIterator[None]:
        async with served_lifespan(app):
            task = asyncio.create_task(watch.run())
            gc.callbacks.append(watch.on_gc)
            try:
                yield
            finally:
                gc.callbacks.remove(watch.on_gc)
                task.cancel()

    async def report() -> dict:  # on the loop, as the watcher: no thread shares its lists
        return watch.report()

    served.app.router.lifespan_context = lifespan
    served.app.add_api_route("/_loop", report, methods=["GET"], include_in_schema=False)
    return served.app


def main() -> None:
    from app.cli import main as serve

    watched_app(LoopWatch())  # uvicorn imports app.main:app again and finds this one (one worker)
    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
