"""The two jobs every framework peer serves, so that the framework is all that differs between them.

Each peer's server imports this module inside its own virtual environment (the repository root on
PYTHONPATH): the same checkpoints (SERVE_MNIST_CHECKPOINT, SERVE_LOGISTIC_CHECKPOINT), loaded by
models.load, and the same torch calls as this service's servables, so the probabilities can be, and are
checked to be, bit-identical to ours. Only torch, Pillow and models/ are needed.
"""

from __future__ import annotations

import functools
import io
import os

import torch
from PIL import Image

import models

DEFAULT_REPOSITORY = os.path.join(os.path.dirname(__file__), "..", "..", "model_repository")


@functools.cache
def _model(variable: str, default: str) -> torch.nn.Module:
    return models.load(os.environ.get(variable, os.path.join(DEFAULT_REPOSITORY, default))).model


def mnist() -> torch.nn.Module:
    return _model("SERVE_MNIST_CHECKPOINT", "mnist/1.pt")


def logistic() -> torch.nn.Module:
    return _model("SERVE_LOGISTIC_CHECKPOINT", "logistic/1.pt")


def load_both() -> None:
    """Load the two models now, at the server's start, rather than on its first request."""
    mnist(), logistic()


def image_probabilities(image: Image.Image) -> list[float]:
    """A decoded 28x28 digit -> the 10 class probabilities, as this service computes them."""
    pixels = torch.frombuffer(bytearray(image.convert("L").tobytes()), dtype=torch.uint8)
    with torch.inference_mode():
        return mnist().predict_proba(pixels.view(1, -1))[0].tolist()


def digit_probabilities(png: bytes) -> list[float]:
    """One image file's bytes (PNG, ...) -> the 10 class probabilities."""
    return image_probabilities(Image.open(io.BytesIO(png)))


def logistic_probability(features: list[float]) -> float:
    """Two raw feature values -> P(y=1), as this service computes it (float64 in, float32 out)."""
    model = logistic()
    with torch.inference_mode():
        batch = torch.tensor([features], dtype=torch.float64)
        return model.predict_proba(model.preprocess(batch, known_finite=False))[0].item()
