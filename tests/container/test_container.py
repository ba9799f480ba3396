"""The Docker image end to end, with podman: build, serve the committed checkpoints (REST and gRPC), stop.

It runs as the Kubernetes manifests run it (deploy/kubernetes): two workers, read-only root, tmpfs /tmp.

Run by `make test-container` (the `container` marker; plain `make test` leaves it out). It uses
../shared/tools/containers (or $CONTAINERS_TOOL), and is skipped, saying why, where podman cannot be
set up. The tests share one container and run in file order: the last one stops it. The container and
the image go at the end; podman's build cache stays (about 1.2 GB under $CONTAINERS_HOME), so that the
next run builds in about a minute rather than four: `containers podman image prune` frees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
from live_server import free_port
from PIL import Image

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
TOOL = Path(os.environ.get("CONTAINERS_TOOL", ROOT.parent / "shared" / "tools" / "containers"))
DIGIT_SEVEN = Path(__file__).resolve().parents[1] / "data" / "digit7.png"  # MNIST test set, image 0
NAME = f"serve-test-{uuid.uuid4().hex[:8]}"
GRPC_PORT = free_port()  # where the container's gRPC port 8001 is published
IMAGE = f"localhost/{NAME}:test"


def containers(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOL), *args], capture_output=True, text=True, check=check, timeout=timeout)


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return containers("podman", *args, check=check, timeout=timeout)


def http(port: int, path: str, body: bytes | None = None, content_type: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if not TOOL.exists():
        pytest.skip(f"no container tool at {TOOL}")
    setup = containers("setup", check=False, timeout=1800)
    if setup.returncode != 0:
        output = (setup.stdout + setup.stderr).strip()[-500:]
        pytest.skip(f"podman cannot be set up here (`containers setup` exited {setup.returncode}): {output}")
    build = [
        "build", "--network", "host", "--format", "docker", "-t", IMAGE,
        "--build-arg", f"BASE_IMAGE={containers('base-image').stdout.strip()}",
        "--build-arg", f"PIP_FIND_LINKS={containers('wheels-url').stdout.strip()}",
        "--build-arg", "TORCH_SPEC=torch==2.13.0",
        str(ROOT),
    ]  # fmt: skip
    started = time.monotonic()
    podman(*build, timeout=1800)
    print(f"\nbuilt {IMAGE} in {time.monotonic() - started:.1f} s")
    try:
        yield IMAGE
    finally:
        podman("rmi", "--force", IMAGE, check=False)


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[int]:
    """The image running as NAME, published on a free loopback port; yields that port once ready."""
    port = free_port()
    started = time.monotonic()
    publish = ["-p", f"127.0.0.1:{port}:8000", "-p", f"127.0.0.1:{GRPC_PORT}:8001"]
    # As deploy/kubernetes runs it: two workers, a read-only root filesystem, a writable /tmp only.
    restricted = ["--read-only", "--tmpfs", "/tmp:rw,size=64m", "-e", "SERVE_WORKERS=2"]
    podman("run", "--detach", "--name", NAME, "--network", "slirp4netns", *restricted, *publish, image)
    try:
        deadline = started + 120
        while time.monotonic() < deadline:
            try:
                if http(port, "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"not ready in 120 s:\n{podman('logs', NAME, check=False).stdout}")
        print(f"\nready {time.monotonic() - started:.1f} s after `podman run`")
        yield port
    finally:
        podman("rm", "--force", NAME, check=False)


def test_container_predicts_committed_digit(container: int) -> None:
    boundary = "container-test"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="digit7.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + DIGIT_SEVEN.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )

    status, payload = http(container, "/predict/mnist", body, f"multipart/form-data; boundary={boundary}")

    assert status == 200
    assert [p["digit"] for p in payload["predictions"]] == [7]


def test_container_predicts_logistic(container: int) -> None:
    body = json.dumps({"features": [6.0, 4.0]}).encode()

    status, payload = http(container, "/predict/logistic", body, "application/json")

    assert status == 200
    assert [p["label"] for p in payload["predictions"]] == [1]


def test_container_grpc_predicts_committed_digit(container: int) -> None:
    pixels = np.asarray(Image.open(DIGIT_SEVEN).convert("L"), dtype=np.uint8).reshape(1, 784)
    tensor = triton_grpc.InferInput("pixels", [1, 784], "UINT8")
    tensor.set_data_from_numpy(pixels)
    with triton_grpc.InferenceServerClient(f"127.0.0.1:{GRPC_PORT}") as client:
        result = client.infer("mnist", [tensor])

    assert result.as_numpy("digit").tolist() == [7]


def test_container_runs_as_non_root(container: int) -> None:
    assert podman("exec", NAME, "id", "-u").stdout.strip() == "10001"


def test_container_healthcheck_passes(container: int) -> None:
    assert podman("healthcheck", "run", NAME, check=False).returncode == 0


def test_container_stops_cleanly_on_sigterm(container: int) -> None:
    podman("stop", "--time", "20", NAME)  # SIGTERM, then SIGKILL after 20 s

    state = json.loads(podman("inspect", NAME).stdout)[0]["State"]

    assert (state["Status"], state["ExitCode"]) == ("exited", 0)
