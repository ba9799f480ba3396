"""What the benchmarks send and serve: checkpoints, a 28x28 PNG digit and request bodies, in a folder."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

import models

BOUNDARY = "benchmark-boundary-7d4a"


@dataclass(frozen=True)
class Fixtures:
    env: dict[str, str]  # SERVE_*_CHECKPOINT for every server, peers included
    png: bytes
    multipart: Path
    multipart_content_type: str
    features_json: Path


def digit_png() -> bytes:
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[6:22, 12:16] = 220
    buffer = io.BytesIO()
    Image.frombytes("L", (28, 28), pixels.numpy().tobytes()).save(buffer, "PNG")
    return buffer.getvalue()


def write_fixtures(folder: Path) -> Fixtures:
    """Random-weight checkpoints (cost is all that matters here) and the bodies, under ``folder``."""
    torch.manual_seed(0)
    logistic = models.save(models.LogisticRegression(), folder / "logistic.pt", version="bench")
    mnist = models.save(models.SoftmaxRegression(), folder / "mnist.pt", version="bench")
    png = digit_png()
    multipart = folder / "digit.multipart"
    multipart.write_bytes(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    features = folder / "features.json"
    features.write_text(json.dumps({"features": [4.0, 3.0]}))
    return Fixtures(
        env={"SERVE_LOGISTIC_CHECKPOINT": str(logistic), "SERVE_MNIST_CHECKPOINT": str(mnist)},
        png=png,
        multipart=multipart,
        multipart_content_type=f"multipart/form-data; boundary={BOUNDARY}",
        features_json=features,
    )
