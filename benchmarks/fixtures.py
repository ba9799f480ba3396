"""What the benchmarks serve and send: random-weight checkpoints, a 28x28 PNG digit, request bodies."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

import models

BOUNDARY = "benchmark-boundary-7d4a"
MULTIPART_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
# The peers' checkpoint paths (ours reads SERVE_MODEL_REPOSITORY).
PEER_CHECKPOINTS = ("SERVE_LOGISTIC_CHECKPOINT", "SERVE_MNIST_CHECKPOINT")


def without_peer_checkpoints(env: dict[str, str]) -> dict[str, str]:
    """``env`` for another checkout of this project (a baseline): older ones read these variables and
    cannot load today's checkpoints, so they are left out and it serves its own committed ones."""
    return {key: value for key, value in env.items() if key not in PEER_CHECKPOINTS}


FEATURES_JSON = json.dumps({"features": [4.0, 3.0]}).encode()


@dataclass(frozen=True)
class Job:
    """One request, sent over and over: a prediction of one model."""

    name: str
    path: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Fixtures:
    env: dict[str, str]  # SERVE_MODEL_REPOSITORY for ours, SERVE_*_CHECKPOINT for the peers
    png: bytes  # one 28x28 PNG digit

    @property
    def multipart(self) -> bytes:
        """The PNG as a multipart/form-data body, part named "file"."""
        return multipart_body(self.png)

    @property
    def jobs(self) -> dict[str, Job]:
        return {
            "mnist": Job("mnist", "/predict/mnist", self.multipart, MULTIPART_CONTENT_TYPE),
            # The same PNG as the whole body (ours only: 423615a and the naive peer take multipart).
            "mnist-raw": Job("mnist-raw", "/predict/mnist", self.png, "image/png"),
            "logistic": Job("logistic", "/predict/logistic", FEATURES_JSON, "application/json"),
        }


def digit_png() -> bytes:
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[6:22, 12:16] = 220
    buffer = io.BytesIO()
    Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())).save(buffer, "PNG")
    return buffer.getvalue()


def multipart_body(png: bytes) -> bytes:
    """``png`` as a browser uploads it: one part named ``file``, delimited by BOUNDARY."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def write_fixtures(folder: Path) -> Fixtures:
    """A repository of random-weight checkpoints under ``folder`` (serving cost does not depend on the
    weights); the peers read the same files."""
    torch.manual_seed(0)
    logistic = models.save(models.LogisticRegression(), folder / "logistic" / "1.pt", version="bench")
    mnist = models.save(models.SoftmaxRegression(), folder / "mnist" / "1.pt", version="bench")
    return Fixtures(
        env={
            "SERVE_MODEL_REPOSITORY": str(folder),
            # Per-request figures: a repository poll is a cost per second, not per request (README).
            "SERVE_REPOSITORY_POLL_SECONDS": "3600",
            "SERVE_LOGISTIC_CHECKPOINT": str(logistic),
            "SERVE_MNIST_CHECKPOINT": str(mnist),
        },
        png=digit_png(),
    )
