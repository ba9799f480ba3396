"""How each server compared by benchmarks/peers/bench.py is started, asked and answered.

Each server does the same two jobs on the same checkpoints: one 28x28 PNG -> the 10 probabilities, and
two features -> P(y=1). Each takes them as its documentation shows, so the request bodies differ (ours and
BentoML: multipart upload; MLServer: the Open Inference Protocol's JSON, the PNG in base64; KServe v1,
TorchServe and Ray Serve: the PNG as the raw body), and so do the answers' shapes; ``probabilities``
reads each answer back into a list of floats for the bit-identity check.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import MULTIPART_CONTENT_TYPE as MULTIPART
from benchmarks.fixtures import multipart_body
from benchmarks.processes import ROOT, free_port, server_argv

JSON = "application/json"
PNG = "image/png"


@dataclass(frozen=True)
class Call:
    """One job as one server takes it: where, in what body, and where the answer's probabilities are."""

    path: str
    content_type: str
    body: Callable[[object], bytes]  # the PNG's bytes, or the two features -> the request body
    probabilities: Callable[[dict], list[float]]  # the decoded JSON answer -> the probabilities

    def request_body(self, sample: object) -> bytes:
        return self.body(sample)


@dataclass(frozen=True)
class Server:
    name: str
    venv: str | None  # its environment under benchmarks/peers/.venvs (envs.py); None: this one (ours)
    command: Callable[[Path, Path, int], list[str]]  # (python, workdir, port) -> argv
    ready_path: str
    mnist: Call
    logistic: Call
    describe: str  # the request bodies and processes, for the table's notes
    env: Callable[[Path, int], dict[str, str]] = lambda workdir, port: {}
    prepare: Callable[[Path, Path], None] | None = None  # (python, workdir): files it needs first
    ready_timeout: float = 180.0
    start_attempts: int = 2


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _features(features: object) -> bytes:
    return _json({"features": features})


# --- ours ----------------------------------------------------------------------------------------------
OURS_MNIST = Call("/predict/mnist", MULTIPART, multipart_body, lambda a: a["predictions"][0]["probabilities"])
OURS_LOGISTIC = Call("/predict/logistic", JSON, _features, lambda a: [a["predictions"][0]["probability"]])


def _ours_env(workdir: Path, port: int) -> dict[str, str]:
    return {
        "SERVE_MODEL_REPOSITORY": str(ROOT / "model_repository"),
        "SERVE_REPOSITORY_POLL_SECONDS": "3600",  # a poll is a cost per second, not per request
        "SERVE_DEVICE": "cpu",
    }


OURS = Server(
    "ours",
    None,
    lambda python, workdir, port: [sys.executable, "-m", "app.cli", "--port", str(port)],
    "/health/ready",
    OURS_MNIST,
    OURS_LOGISTIC,
    "uvicorn, 1 process; every production feature on; multipart upload, JSON features",
    env=_ours_env,
)


def granian_prepare(python: Path, workdir: Path) -> None:
    """Our logging configuration as granian reads one (JSON, classes by import path): uvicorn gets it
    from app/cli.py, and without it the request log would cost nothing under granian."""
    from app.observability.logs import logging_config
    from app.settings import Settings

    def plain(value: object) -> object:
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return f"{value.__module__}.{value.__qualname__}" if isinstance(value, type) else value

    (workdir / "log.json").write_text(json.dumps(plain(logging_config(Settings()))))


OURS_GRANIAN = Server(
    "ours@granian",
    None,
    lambda python, workdir, port: server_argv("ours@granian", port, log_config=workdir / "log.json"),
    "/health/ready",
    OURS_MNIST,
    OURS_LOGISTIC,
    "our app under granian (Rust HTTP server), 1 worker, uvloop, HTTP/1, our log configuration",
    env=_ours_env,
    prepare=granian_prepare,
)


# --- MLServer ------------------------------------------------------------------------------------------
def _oip_png(png: object) -> bytes:
    data = base64.b64encode(png).decode()
    tensor = {"name": "image", "shape": [1], "datatype": "BYTES", "data": [data]}
    return _json({"inputs": [{**tensor, "parameters": {"content_type": "base64"}}]})


def _oip_features(features: object) -> bytes:
    return _json({"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP64", "data": features}]})


def _mlserver_prepare(python: Path, workdir: Path) -> None:
    for name, runtime in (("mnist", "MnistRuntime"), ("logistic", "LogisticRuntime")):
        (workdir / name).mkdir(parents=True, exist_ok=True)
        settings = {"name": name, "implementation": f"benchmarks.peers.mlserver_runtime.{runtime}"}
        (workdir / name / "model-settings.json").write_text(json.dumps(settings))


MLSERVER = Server(
    "mlserver",
    "mlserver",
    lambda python, workdir, port: [str(python.with_name("mlserver")), "start", str(workdir)],
    "/v2/health/ready",
    Call("/v2/models/mnist/infer", JSON, _oip_png, lambda a: a["outputs"][0]["data"]),
    Call("/v2/models/logistic/infer", JSON, _oip_features, lambda a: a["outputs"][0]["data"]),
    "MLServer 1.7.1, inference in-process (parallel_workers=0), debug off; OIP JSON, the PNG in base64",
    env=lambda workdir, port: {
        "MLSERVER_HTTP_PORT": str(port),
        "MLSERVER_GRPC_PORT": str(free_port()),
        "MLSERVER_METRICS_PORT": str(free_port()),
        "MLSERVER_HOST": "127.0.0.1",
        # One process: a pool of one inference worker would add a process and a hop per request.
        "MLSERVER_PARALLEL_WORKERS": "0",
        "MLSERVER_DEBUG": "false",  # its default, true, logs every request at debug level
    },
    prepare=_mlserver_prepare,
)


# --- KServe --------------------------------------------------------------------------------------------
KSERVE = Server(
    "kserve",
    "kserve",
    lambda python, workdir, port: [
        str(python),
        str(ROOT / "benchmarks/peers/kserve_server.py"),
        "--http_port",
        str(port),
        "--grpc_port",
        str(free_port()),
    ],
    "/v1/models/mnist",
    Call("/v1/models/mnist:predict", PNG, lambda png: png, lambda a: a["predictions"][0]),
    Call(
        "/v1/models/logistic:predict", JSON, lambda f: _json({"instances": [f]}), lambda a: a["predictions"]
    ),
    "KServe 0.21 model server, v1 protocol, 1 worker (binds 0.0.0.0); raw image/png body",
)


KSERVE_V2 = Server(
    "kserve-v2",
    "kserve",
    KSERVE.command,
    "/v1/models/mnist",
    Call("/v2/models/mnist/infer", JSON, _oip_png, lambda a: a["outputs"][0]["data"]),
    Call("/v2/models/logistic/infer", JSON, _oip_features, lambda a: a["outputs"][0]["data"]),
    "KServe 0.21 model server, v2 protocol (OIP JSON, the PNG in base64), 1 worker",
)


# --- BentoML -------------------------------------------------------------------------------------------
def _bento_multipart(png: object) -> bytes:
    return multipart_body(png).replace(b'name="file"', b'name="image"')


BENTOML = Server(
    "bentoml",
    "bentoml",
    lambda python, workdir, port: [
        str(python.with_name("bentoml")),
        "serve",
        "benchmarks.peers.bentoml_service:Digits",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--working-dir",
        str(ROOT),
    ],
    "/readyz",
    Call("/mnist", MULTIPART, _bento_multipart, lambda a: a),
    Call("/logistic", JSON, _features, lambda a: [a]),
    "BentoML 1.4.40, 1 worker (+ its supervisor), uvicorn[standard]; multipart upload",
    env=lambda workdir, port: {"BENTOML_HOME": str(workdir / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"},
)


# --- TorchServe ----------------------------------------------------------------------------------------
def _torchserve_prepare(python: Path, workdir: Path) -> None:
    store = workdir / "store"
    store.mkdir(parents=True, exist_ok=True)
    for name in ("mnist", "logistic"):
        subprocess.run(
            [
                str(python.with_name("torch-model-archiver")),
                "--model-name",
                name,
                "--version",
                "1.0",
                "--handler",
                str(ROOT / "benchmarks/peers/torchserve_handler.py"),
                "--export-path",
                str(store),
                "--archive-format",
                "no-archive",
                "--force",
            ],
            check=True,
        )


def _torchserve_config(workdir: Path, port: int) -> Path:
    config = workdir / "config.properties"
    config.write_text(
        f"inference_address=http://127.0.0.1:{port}\n"
        f"management_address=http://127.0.0.1:{free_port()}\n"
        f"metrics_address=http://127.0.0.1:{free_port()}\n"
        "default_workers_per_model=1\n"
        "disable_token_authorization=true\n"
        "load_models=all\n"
        f"model_store={workdir / 'store'}\n"
    )
    return config


TORCHSERVE = Server(
    "torchserve",
    "torchserve",
    lambda python, workdir, port: [
        str(python.with_name("torchserve")),
        "--start",
        "--foreground",
        "--ncs",
        "--disable-token-auth",
        "--ts-config",
        str(_torchserve_config(workdir, port)),
        "--models",
        "mnist=mnist",
        "logistic=logistic",
    ],
    "/ping",
    Call("/predictions/mnist", PNG, lambda png: png, lambda a: a["probabilities"]),
    Call("/predictions/logistic", JSON, _features, lambda a: [a["probability"]]),
    "TorchServe 0.12, Java frontend + 1 Python worker per model; raw image/png body",
    env=lambda workdir, port: {
        "LOG_LOCATION": str(workdir / "logs"),
        "METRICS_LOCATION": str(workdir / "logs"),
    },
    prepare=_torchserve_prepare,
)


# --- Ray Serve -----------------------------------------------------------------------------------------
RAY = Server(
    "ray",
    "ray",
    lambda python, workdir, port: [
        str(python),
        str(ROOT / "benchmarks/peers/ray_serve_app.py"),
        "--port",
        str(port),
    ],
    "/health/ready",
    Call("/predict/mnist", PNG, lambda png: png, lambda a: a["probabilities"]),
    Call("/predict/logistic", JSON, _features, lambda a: [a["probability"]]),
    "Ray Serve 2.60, 1 replica (+ Ray's GCS, raylet, controller and proxy); raw image/png body",
    # Ray 2.60 turns on token authentication for a new cluster; this one listens on loopback only.
    env=lambda workdir, port: {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"},
    ready_timeout=150.0,
    start_attempts=4,
)

SERVERS = {s.name: s for s in (OURS, MLSERVER, KSERVE, KSERVE_V2, BENTOML, TORCHSERVE, RAY, OURS_GRANIAN)}
