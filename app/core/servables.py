"""One servable per architecture: a loaded model version as every front end sees it. Nothing of HTTP here.

A servable owns, for its architecture:

* ``signature``: its input and output tensors, named and typed (what OIP metadata shows);
* ``prepare(inputs)``: the input checks (shape, finiteness, range) -> a batch ``infer`` takes. This is
  the only way in: the data plane always calls it, so no front end can skip a check;
* ``infer(batch)``: the forward pass and the label rule -> result columns, one entry per input row,
  timed and counted under the model's name and version;
* ``outputs(columns)``: the columns named as the signature's outputs (flat, row-major);
* ``explain(batch)``: ``infer``'s columns plus the exact linear explanation (models/explanation.py).

Adding an architecture: a module in models/, a Servable subclass here (or in its own file), and one
``register()`` line.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from app.observability.metrics import INFERENCE_SECONDS, PREDICTION_COUNTS
from models import Checkpoint, FrozenLogistic, LogisticRegression, SoftmaxRegression
from models.explanation import Explanation
from models.logistic import stacked

ANY = -1  # a dimension of any size: the batch


def inference_mode() -> torch._C._InferenceMode:
    """``torch.inference_mode()``'s own guard, entered without its Python wrapper: the same mode, about two
    microseconds less per request (the wrapper's __new__, __init__, __enter__ and __exit__)."""
    return torch._C._InferenceMode(True)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatypes: tuple[str, ...]  # accepted; the first is the one metadata advertises
    shapes: tuple[tuple[int, ...], ...]  # accepted; the first is the one metadata advertises
    # Shown in metadata as the tensor's parameters: e.g. what each column of a feature matrix is.
    parameters: dict[str, str] | None = None

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        return any(
            len(shape) == len(spec) and all(s in (d, ANY) for s, d in zip(spec, shape, strict=True))
            for spec in self.shapes
        )

    def shape_for(self, batch_size: int) -> list[int]:
        return [batch_size if d == ANY else d for d in self.shapes[0]]


@dataclass(frozen=True)
class Signature:
    input: TensorSpec
    outputs: tuple[TensorSpec, ...]

    def output(self, name: str) -> TensorSpec | None:
        return next((o for o in self.outputs if o.name == name), None)


class Servable(ABC):
    """A checkpoint loaded for serving under ``name`` and ``version``; read-only once built.

    Requests hold on to the servable they started with, so a version swapped out or unloaded meanwhile
    still finishes them.
    """

    architecture: ClassVar[str]
    description: ClassVar[str]  # one line for /models when the checkpoint has none of its own

    def __init__(self, name: str, version: str, checkpoint: Checkpoint) -> None:
        self.name, self.version, self.checkpoint = name, version, checkpoint
        self.model = checkpoint.model
        self.config = checkpoint.config
        self.signature = self.make_signature()
        # Label children made once: a request then pays one observe, and a count per prediction.
        self._seconds = INFERENCE_SECONDS.labels(name, version)

    @abstractmethod
    def make_signature(self) -> Signature: ...

    @abstractmethod
    def prepare(self, inputs: Any) -> Any:
        """Check ``inputs`` (InvalidInputError / InvalidContentError naming the problem) -> a batch."""

    @abstractmethod
    def infer(self, batch: Any) -> tuple[list, ...]:
        """A prepared batch (or several concatenated by the micro-batcher) -> result columns."""

    @abstractmethod
    def outputs(self, columns: tuple[list, ...]) -> dict[str, list]:
        """Result columns named as ``signature.outputs``, each flat and row-major."""

    @abstractmethod
    def explain(self, batch: Any) -> tuple[Any, ...]:
        """As ``infer``, with the model's exact explanation of each row appended."""

    def _count(self, series: list[tuple[str, ...]], classes: list[int]) -> None:
        counts = PREDICTION_COUNTS.counts
        for cls in classes:
            counts[series[cls]] += 1


class LogisticServable(Servable):
    """Binary logistic regression: feature rows -> (P(y=1), label under the checkpoint's threshold)."""

    architecture = LogisticRegression.architecture
    description = "Binary logistic regression on numeric features: P(y=1) and a label."

    def __init__(self, name: str, version: str, checkpoint: Checkpoint) -> None:
        super().__init__(name, version, checkpoint)
        self._labels = [(name, version, str(label)) for label in (0, 1)]
        self._probabilities = FrozenLogistic(self.model)  # the parameters are final: a servable is read-only

    def make_signature(self) -> Signature:
        return Signature(
            input=TensorSpec(
                "features",
                ("FP32", "FP64"),
                ((ANY, self.config.in_features),),
                # Column j is feature_names[j]. One string, as V2 parameters are scalars; a name holds no
                # comma (the trainer's --features is comma-separated).
                {"feature_names": ",".join(self.config.feature_names)},
            ),
            outputs=(
                TensorSpec("probability", ("FP32",), ((ANY, 1),)),
                TensorSpec("label", ("INT64",), ((ANY, 1),)),
            ),
        )

    def prepare(self, inputs: list[list[float] | dict[str, float]] | torch.Tensor) -> list[array]:
        """Instances (value lists in feature order or {name: value} from JSON, or a tensor) -> the checked
        rows of C doubles ``FrozenLogistic`` reads (the model's ``checked_rows``, which refuses
        non-finite values), whichever front end they came from.
        """
        if isinstance(inputs, torch.Tensor):
            self.model.check(inputs, known_finite=True)  # the shape; checked_rows reads the values
            return self.model.checked_rows(inputs.tolist())
        # Names to the model's order; a wrong count or name is an InvalidInputError listing them.
        return self.model.checked_rows(self.config.feature_rows(inputs))

    def infer(self, batch: list[array]) -> tuple[list[float], list[int]]:
        started = time.perf_counter()
        with inference_mode():
            # prepare() has checked the batch: the model's own scan for NaN is not run twice.
            probabilities = self._probabilities(batch)
        self._seconds.observe(time.perf_counter() - started)
        threshold = self.config.threshold
        labels = [int(p >= threshold) for p in probabilities]
        self._count(self._labels, labels)
        return probabilities, labels

    def outputs(self, columns: tuple[list, ...]) -> dict[str, list]:
        probabilities, labels = columns
        return {"probability": probabilities, "label": labels}

    def explain(self, batch: list[array]) -> tuple[list[float], list[int], Explanation]:
        """As ``infer``, with each feature's exact share of the logit."""
        model = self.model
        features = stacked(batch, self.config.in_features)
        started = time.perf_counter()
        with inference_mode():
            explanation = model.explain(features, known_finite=True)
            probabilities = torch.sigmoid(explanation.logits).squeeze(-1).float().cpu().tolist()
        self._seconds.observe(time.perf_counter() - started)
        labels = [int(p >= self.config.threshold) for p in probabilities]
        self._count(self._labels, labels)
        return probabilities, labels, explanation


class DigitServable(Servable):
    """Softmax regression on square grey images: raw 0..255 pixels -> (digit, class probabilities)."""

    architecture = SoftmaxRegression.architecture
    description = "Softmax regression on 28x28 MNIST digits: the digit and its ten probabilities."

    def __init__(self, name: str, version: str, checkpoint: Checkpoint) -> None:
        super().__init__(name, version, checkpoint)
        self._labels = [(name, version, str(digit)) for digit in range(self.config.num_classes)]

    def make_signature(self) -> Signature:
        side, classes = self.config.image_size, self.config.num_classes
        return Signature(
            input=TensorSpec("pixels", ("FP32", "UINT8", "FP64"), ((ANY, side * side), (ANY, side, side))),
            outputs=(
                TensorSpec("probabilities", ("FP32",), ((ANY, classes),)),
                TensorSpec("digit", ("INT64",), ((ANY,),)),
            ),
        )

    def prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        """Pixels [N, side, side] or [N, side*side]: checked (shape, finite, 0..255) in ``infer``, by the
        model's preprocess, the one place that training and serving share."""
        return inputs

    def infer(self, batch: torch.Tensor) -> tuple[list[int], list[list[float]]]:
        started = time.perf_counter()
        with inference_mode():
            probabilities = self.model.predict_proba(batch)
        self._seconds.observe(time.perf_counter() - started)
        rows = (probabilities if probabilities.is_cpu else probabilities.cpu()).tolist()
        # argmax's rule (the first of equal maxima) on the lists already read back: one tensor op fewer.
        digits = [row.index(max(row)) for row in rows]
        self._count(self._labels, digits)
        return digits, rows

    def outputs(self, columns: tuple[list, ...]) -> dict[str, list]:
        digits, probabilities = columns
        return {"probabilities": [p for row in probabilities for p in row], "digit": digits}

    def explain(self, batch: torch.Tensor) -> tuple[list[int], list[list[float]], Explanation]:
        """As ``infer``, with every pixel's exact share of the two most probable digits' logits."""
        started = time.perf_counter()
        with inference_mode():
            explanation = self.model.explain(batch)
            probabilities = torch.softmax(explanation.logits, dim=-1).cpu()
        self._seconds.observe(time.perf_counter() - started)
        digits = probabilities.argmax(dim=-1).tolist()
        self._count(self._labels, digits)
        return digits, probabilities.tolist(), explanation


SERVABLES: dict[str, type[Servable]] = {}


def register(servable: type[Servable]) -> type[Servable]:
    SERVABLES[servable.architecture] = servable
    return servable


register(LogisticServable)
register(DigitServable)


def servable_for(name: str, version: str, checkpoint: Checkpoint) -> Servable:
    """The servable of ``checkpoint``'s architecture (every architecture models/ loads has one)."""
    return SERVABLES[checkpoint.architecture](name, version, checkpoint)
