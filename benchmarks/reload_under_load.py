"""Swap the logistic model back and forth on a live server while clients keep predicting.

Starts uvicorn on 127.0.0.1 with two throwaway checkpoints (versions 1 and 2, different weights), runs
``--clients`` threads posting /predict/logistic, reloads ``--reloads`` times, then prints how many
answers each version gave, any failures, reload times and prediction latency.

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


def write_checkpoints(folder: Path) -> None:
    for version, sign in (("1.0.0", 1.0), ("2.0.0", -1.0)):
        model = models.LogisticRegression()
        with torch.no_grad():
            model.linear.weight.copy_(sign * torch.tensor([[3.2530, 1.5179]]))
            model.linear.bias.fill_(sign * -14.4819)
        models.save(model, folder / f"logistic-{version}.pt", version=version)
    models.save(models.SoftmaxRegression(), folder / "mnist.pt", version="1.0.0")


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
        write_checkpoints(folder)
        env = {
            **os.environ,
            "SERVE_API_KEY": key,
            "SERVE_RELOAD_DIR": str(folder),
            "SERVE_LOGISTIC_CHECKPOINT": str(folder / "logistic-1.0.0.pt"),
            "SERVE_MNIST_CHECKPOINT": str(folder / "mnist.pt"),
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
                path = f"logistic-{'2.0.0' if i % 2 == 0 else '1.0.0'}.pt"
                response = admin.post("/admin/models/logistic/reload", json={"path": path})
                response.raise_for_status()
                load_seconds.append(response.json()["load_seconds"])
                time.sleep(0.1)  # let each version answer some requests
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    print(f"answers by version: {dict(answers)}")
    print(
        f"reloads: {reloads}, load p50 {percentile(load_seconds, 0.5) * 1e3:.1f} ms, "
        f"max {max(load_seconds) * 1e3:.1f} ms"
    )
    print(
        f"predict latency during reloads ({clients} clients, n={len(latencies)}): "
        f"p50 {percentile(latencies, 0.5) * 1e3:.1f} ms, p99 {percentile(latencies, 0.99) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
