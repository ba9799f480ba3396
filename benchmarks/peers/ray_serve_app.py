"""The Ray Serve peer: one deployment, one replica, taking Starlette requests (Ray Serve's basic HTTP way).

    python benchmarks/peers/ray_serve_app.py --port 8000

``POST /predict/mnist`` takes the PNG as the raw body, ``POST /predict/logistic`` ``{"features": [x1, x2]}``;
``GET /health/ready`` answers once the replica is up.

Ray runs as a fresh one-node cluster of its own (``ray start --head --block``, no dashboard), stopped with
this process (SIGINT or SIGTERM), never ``ray stop``, which would stop every Ray on the machine. Its ports
are chosen free and given explicitly: left to Ray, the raylet waits a fixed minute for the metrics agent
to write its port to a file, and on a busy 2-core machine the agent takes longer to start, so the node
never comes up ("The current node timed out during startup").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import ray
from ray import serve
from starlette.requests import Request

from benchmarks.peers import inference
from benchmarks.processes import free_port


@serve.deployment(num_replicas=1, max_ongoing_requests=64)
class Digits:
    def __init__(self, checkpoints: dict[str, str]) -> None:
        os.environ.update(checkpoints)  # the replica is a process of Ray's: it gets the paths from here
        inference.load_both()

    async def __call__(self, request: Request) -> dict:
        if request.method == "GET":
            return {"status": "ready"}
        if request.url.path.endswith("/mnist"):
            return {"probabilities": inference.digit_probabilities(await request.body())}
        features = (await request.json())["features"]
        return {"probability": inference.logistic_probability(features)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    checkpoints = {
        k: v for k, v in os.environ.items() if k.startswith("SERVE_") and k.endswith("_CHECKPOINT")
    }
    gcs_port = free_port()
    ports = {
        "--port": gcs_port,
        "--dashboard-agent-grpc-port": free_port(),  # the metrics agent's port
        "--dashboard-agent-listen-port": free_port(),
        "--runtime-env-agent-port": free_port(),
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--ray-client-server-port": free_port(),
        "--metrics-export-port": free_port(),
    }
    ray_cli = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
            *[str(part) for flag, port in ports.items() for part in (flag, port)],
        ]
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        for attempt in range(60):
            try:
                ray.init(address=f"127.0.0.1:{gcs_port}", log_to_driver=False)
                break
            except (ConnectionError, RuntimeError):
                if stop.is_set() or head.poll() is not None or attempt == 59:
                    raise
                time.sleep(2)
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        serve.run(Digits.bind(checkpoints), route_prefix="/")
        stop.wait()
        serve.shutdown()
        ray.shutdown()
    finally:
        head.send_signal(signal.SIGTERM)  # ray start --block stops its node's processes
        head.wait(timeout=60)


if __name__ == "__main__":
    main()
