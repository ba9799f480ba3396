"""Swap the logistic model's default version back and forth on a live server while clients keep predicting.

Starts uvicorn on 127.0.0.1 with a throwaway repository (logistic versions 1 and 2, different weights,
both served), runs ``--clients`` threads posting /predict/logistic, pins versions 2 and 1 in turn
``--reloads`` times, then prints how many answers each version gave, any failures, how long each admin
call took and prediction latency.

    .venv/bin/python -m benchmarks.reload_under_load --reloads 20 --clients 4
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

import httpx
import torch

import models
from benchmarks.processes import free_port, running_server, server_argv


def write_repository(folder: Path) -> None:
    for version, sign in ((1, 1.0), (2, -1.0)):
        model = models.LogisticRegression()
        with torch.no_grad():
            model.linear.weight.copy_(sign * torch.tensor([[3.2530, 1.5179]]))
            model.linear.bias.fill_(sign * -14.4819)
        models.save(model, folder / "logistic" / f"{version}.pt")
    (folder / "logistic" / "config.json").write_text('{"version_policy": {"all": {}}}')
    models.save(models.SoftmaxRegression(), folder / "mnist" / "1.pt")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, help="TCP port (default: a free one)")
    args = parser.parse_args()
    port = args.port or free_port()

    key, base_url = secrets.token_urlsafe(24), f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_repository(folder)
        env = {
            **os.environ,
            "SERVE_API_KEY": key,
            "SERVE_MODEL_REPOSITORY": str(folder),
            "SERVE_DEVICE": "cpu",
        }
        with running_server(server_argv("ours", port), port, env=env):
            run(base_url, key, args.reloads, args.clients)


def run(base_url: str, key: str, reloads: int, clients: int) -> None:
    stop, answers, latencies = threading.Event(), collections.Counter(), []

    def predict_until_stopped() -> None:
        with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=10) as client:
            while not stop.is_set():
                started = time.perf_counter()
                response = client.post("/predict/logistic", json={"features": [4.0, 3.0]})
                latencies.append(time.perf_counter() - started)
                ok = response.status_code == 200
                answers[response.json()["model"]["version"] if ok else f"HTTP {response.status_code}"] += 1

    threads = [threading.Thread(target=predict_until_stopped) for _ in range(clients)]
    for thread in threads:
        thread.start()
    load_seconds = []
    try:
        with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=30) as admin:
            for i in range(reloads):
                started = time.perf_counter()
                response = admin.put("/admin/models/logistic/default", json={"version": 2 - i % 2})
                response.raise_for_status()
                load_seconds.append(time.perf_counter() - started)
                time.sleep(0.1)  # let each version answer some requests
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    print(f"answers by version: {dict(answers)}")
    print(
        f"pins: {reloads}, admin call p50 {percentile(load_seconds, 0.5) * 1e3:.1f} ms, "
        f"max {max(load_seconds) * 1e3:.1f} ms"
    )
    print(
        f"predict latency during reloads ({clients} clients, n={len(latencies)}): "
        f"p50 {percentile(latencies, 0.5) * 1e3:.1f} ms, p99 {percentile(latencies, 0.99) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
