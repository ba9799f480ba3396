"""Each served model as the Open Inference Protocol sees it: named, typed tensors in and out.

Inference runs through the model's runner, the same one /predict/* uses (batching included), so both APIs
give identical results for identical inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

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


# The input tensor as the model's runner (app/batching.py) takes it; raises for values the model refuses.
PrepareFn = Callable[[Checkpoint, torch.Tensor], Any]
# The runner's result columns, named as the signature's outputs: flat and row-major.
NameFn = Callable[[tuple[list, ...]], dict[str, list]]


@dataclass(frozen=True)
class Signature:
    input: TensorSpec
    outputs: tuple[TensorSpec, ...]
    prepare: PrepareFn
    name_outputs: NameFn

    def output(self, name: str) -> TensorSpec | None:
        return next((o for o in self.outputs if o.name == name), None)


def _logistic_rows(checkpoint: Checkpoint, features: torch.Tensor) -> list[list[float]]:
    # The runner trusts its rows to be finite (/predict's schema sees to that); a tensor is checked here.
    checkpoint.model.check(features)
    return features.tolist()


def _logistic_outputs(columns: tuple[list, ...]) -> dict[str, list]:
    probabilities, labels = columns
    return {"probability": probabilities, "label": labels}


def _mnist_pixels(checkpoint: Checkpoint, pixels: torch.Tensor) -> torch.Tensor:
    return pixels  # the runner's preprocess checks shape and values


def _mnist_outputs(columns: tuple[list, ...]) -> dict[str, list]:
    digits, probabilities = columns
    return {"probabilities": [p for row in probabilities for p in row], "digit": digits}


def _logistic_signature(checkpoint: Checkpoint) -> Signature:
    return Signature(
        input=TensorSpec("features", ("FP32", "FP64"), ((ANY, checkpoint.config.in_features),)),
        outputs=(
            TensorSpec("probability", ("FP32",), ((ANY, 1),)),
            TensorSpec("label", ("INT64",), ((ANY, 1),)),
        ),
        prepare=_logistic_rows,
        name_outputs=_logistic_outputs,
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
        prepare=_mnist_pixels,
        name_outputs=_mnist_outputs,
    )


_SIGNATURES: dict[str, Callable[[Checkpoint], Signature]] = {
    LogisticRegression.architecture: _logistic_signature,
    SoftmaxRegression.architecture: _mnist_signature,
}


def signature_of(checkpoint: Checkpoint) -> Signature:
    return _SIGNATURES[checkpoint.architecture](checkpoint)
