"""Setting up prometheus-client's multiprocess mode, before any worker imports prometheus_client.

Kept apart from metrics.py on purpose: prometheus_client picks its value storage when first imported,
so the directory must be in the environment before that, in the process that starts the workers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_dir(workers: int) -> Iterator[str | None]:
    """For more than one worker, make sure ``PROMETHEUS_MULTIPROC_DIR`` names an empty directory.

    A directory given by the operator is emptied (values left by an earlier run would be counted again)
    and kept; otherwise a fresh temporary one is made, and removed when the block ends (the server
    stopped). One worker needs none: its metrics live in its memory.
    """
    directory = os.environ.get(ENV)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield directory
        return
    if workers <= 1:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="serve-metrics-")
    os.environ[ENV] = directory
    try:
        yield directory
    finally:
        del os.environ[ENV]
        shutil.rmtree(directory, ignore_errors=True)
