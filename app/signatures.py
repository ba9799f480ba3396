"""Each served model as the Open Inference Protocol sees it: named, typed tensors in and out.

Running a signature goes through app/inference.py, the same code as /predict/*, so both APIs give
identical results for identical inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from app.inference import predict_digits, predict_logistic
from models import Checkpoint, LogisticRegression, SoftmaxRegression

ANY = -1  # a dimension of any size: the batch


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatypes: tuple[str, ...]  # accepted; the first is the one metadata advertises
    shapes: tuple[tuple[int, ...], ...]  # accepted; the first is the one metadata advertises

    def accepts_shape(self, shape: list[int]) -> bool:
        return any(
            len(shape) == len(spec) and all(s in (d, ANY) for s, d in zip(spec, shape, strict=True))
            for spec in self.shapes
        )

    def shape_for(self, batch_size: int) -> list[int]:
        return [batch_size if d == ANY else d for d in self.shapes[0]]


# Runs the model on an input tensor; returns the outputs, flat and row-major, by name.
RunFn = Callable[[Checkpoint, torch.Tensor], dict[str, list]]


@dataclass(frozen=True)
class Signature:
    input: TensorSpec
    outputs: tuple[TensorSpec, ...]
    run: RunFn

    def output(self, name: str) -> TensorSpec | None:
        return next((o for o in self.outputs if o.name == name), None)


def _run_logistic(checkpoint: Checkpoint, features: torch.Tensor) -> dict[str, list]:
    probabilities, labels = predict_logistic(checkpoint, features.tolist())
    return {"probability": probabilities, "label": labels}


def _run_mnist(checkpoint: Checkpoint, pixels: torch.Tensor) -> dict[str, list]:
    digits, probabilities = predict_digits(checkpoint, pixels)
    return {"probabilities": [p for row in probabilities for p in row], "digit": digits}


def _logistic_signature(checkpoint: Checkpoint) -> Signature:
    return Signature(
        input=TensorSpec("features", ("FP32", "FP64"), ((ANY, checkpoint.config.in_features),)),
        outputs=(
            TensorSpec("probability", ("FP32",), ((ANY, 1),)),
            TensorSpec("label", ("INT64",), ((ANY, 1),)),
        ),
        run=_run_logistic,
    )


def _mnist_signature(checkpoint: Checkpoint) -> Signature:
    config = checkpoint.config
    side = config.image_size
    return Signature(
        input=TensorSpec("pixels", ("FP32", "UINT8", "FP64"), ((ANY, side * side), (ANY, side, side))),
        outputs=(
            TensorSpec("probabilities", ("FP32",), ((ANY, config.num_classes),)),
            TensorSpec("digit", ("INT64",), ((ANY,),)),
        ),
        run=_run_mnist,
    )


_SIGNATURES: dict[str, Callable[[Checkpoint], Signature]] = {
    LogisticRegression.architecture: _logistic_signature,
    SoftmaxRegression.architecture: _mnist_signature,
}


def signature_of(checkpoint: Checkpoint) -> Signature:
    return _SIGNATURES[checkpoint.architecture](checkpoint)
