"""examples/test_deployment.py, run as a user would, against a live digit-serve with the committed models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from live_server import serve_process

ROOT = Path(__file__).resolve().parents[1]
NO_CACHE = ["-p", "no:cacheprovider"]  # leave no .pytest_cache behind in the checkout


def test_examples_pass_against_a_live_server(tmp_path: Path) -> None:
    with serve_process({"SERVE_API_KEY": "example-key"}, tmp_path / "serve.log") as (_, port):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "examples", "--api-key", "example-key", *NO_CACHE],
            cwd=ROOT,
            env={**os.environ, "DIGIT_SERVE_URL": f"http://127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout.splitlines()[-1]


def test_examples_say_where_to_point_them() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DIGIT_SERVE_URL"}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "examples", "-k", "ready", *NO_CACHE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "say where the service is: --base-url URL or DIGIT_SERVE_URL=URL" in result.stdout
