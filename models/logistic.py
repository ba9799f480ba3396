"""Binary logistic regression on a handful of numeric features."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from models.errors import InvalidInputError
from models.explanation import Explanation, explain_linear

_FLOAT64_MAX = torch.finfo(torch.float64).max
_NOT_FINITE = "features must be finite numbers (no NaN or infinity)"


@dataclass(frozen=True)
class LogisticConfig:
    """Everything serving needs to know besides the weights.

    ``mean`` and ``std`` standardise each raw feature, ``(x - mean) / std``, before the linear layer; they
    are the training split's, so the weights are per standard deviation. Empty (the tutorial's recipe, and
    checkpoints written before standardisation existed): the weights apply to the raw values.
    """

    in_features: int = 2
    feature_names: tuple[str, ...] = ("x1", "x2")
    threshold: float = 0.5  # label = 1 when P(y=1) >= threshold
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.in_features < 1 or len(self.feature_names) != self.in_features:
            raise ValueError("feature_names must name each of in_features")
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError("feature_names must be distinct")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must lie strictly between 0 and 1")
        if len(self.mean) != len(self.std) or len(self.mean) not in (0, self.in_features):
            raise ValueError("mean and std must both be empty or give one value per feature")
        if not all(math.isfinite(m) for m in self.mean) or not all(
            math.isfinite(s) and s > 0 for s in self.std
        ):
            raise ValueError("mean must be finite and std finite and positive")

    @property
    def standardized(self) -> bool:
        return bool(self.mean)

    def feature_rows(self, instances: Sequence[Sequence[float] | Mapping[str, float]]) -> list[list[float]]:
        """Instances as value lists in ``feature_names`` order, or as {name: value} -> value lists.

        Raises InvalidInputError naming the instance and listing the expected names. Lists of the right
        length pass through as they are (no copy): the common case costs one length check per row.
        """
        rows = instances if isinstance(instances, list) else list(instances)
        names = self.feature_names
        width = len(names)
        for index, instance in enumerate(rows):
            # A list first: isinstance of an ABC such as Mapping is the slower test.
            if isinstance(instance, list) or not isinstance(instance, Mapping):
                if len(instance) != width:
                    raise InvalidInputError(
                        f"instance {index} has {len(instance)} features; expected {width} "
                        f"({', '.join(names)})"
                    )
            else:
                rows = rows if rows is not instances else list(rows)
                rows[index] = self._named_row(index, instance)
        return rows

    def _named_row(self, index: int, instance: Mapping[str, float]) -> list[float]:
        if len(instance) == len(self.feature_names):
            try:
                return [instance[name] for name in self.feature_names]
            except KeyError:
                pass
        missing = [name for name in self.feature_names if name not in instance]
        unknown = [name for name in instance if name not in self.feature_names]
        problems = [
            f"{what} {', '.join(names)}"
            for what, names in (("missing", missing), ("unknown", unknown))
            if names
        ]
        raise InvalidInputError(
            f"instance {index}: {'; '.join(problems)}; expected the features {', '.join(self.feature_names)}"
        ) from None


class LogisticRegression(nn.Module):
    """Linear(in_features, 1) followed by a sigmoid: forward returns P(y=1), shape [N].

    forward takes preprocessed (standardised) features; ``preprocess`` turns raw values into them.
    """

    architecture = "logistic_regression"

    def __init__(self, config: LogisticConfig | None = None) -> None:
        super().__init__()
        self.config = config or LogisticConfig()
        self.linear = nn.Linear(self.config.in_features, 1)
        # float64 and not buffers: .float() and .to(dtype) must not round them, and the checkpoint's
        # config carries them. On CPU, preprocess's .to(device) is a no-op.
        self._mean = torch.tensor(self.config.mean, dtype=torch.float64)
        self._std = torch.tensor(self.config.std, dtype=torch.float64)
        self._placed: tuple | None = None  # (device, mean, std) there

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x.to(self.linear.weight.dtype))).squeeze(-1)

    def predict_proba(self, features: torch.Tensor) -> torch.Tensor:
        """Checked features [N, in_features] (see ``preprocess``) -> P(y=1) [N], float32, never NaN.

        Any finite input gives a number. In float32, [3e38, -3e38] makes the logit inf - inf = NaN; in
        float64 so does [1e308, -1e308] with weights above 1. So each row is divided by its largest
        magnitude first: the dot product of values in [-1, 1] cannot overflow, and scaling it back gives
        a finite logit or an infinite one, which the sigmoid turns into exactly 0 or 1.
        """
        return _probabilities(self.logits(features))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Checked features [N, in_features] -> the logit z = w.x + b, [N, 1] float64 (see predict_proba)."""
        x = features if features.dtype is torch.float64 else features.double()
        return _scaled_logits(x, *self._float64_parameters())

    def _float64_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W.T, b) in float64, as logits() multiplies by them. Serving keeps its own copies
        (FrozenLogistic); here they are made per call, so training's autograd can follow them."""
        return self.linear.weight.to(torch.float64).T, self.linear.bias.to(torch.float64)

    def preprocess(self, features: torch.Tensor, *, known_finite: bool = False) -> torch.Tensor:
        """Check a [N, in_features] batch of raw feature values, move it to the model, standardise it.

        ``known_finite``: the caller has already refused NaN and infinity (a validated request schema),
        so the scan, a fifth of a served request's cost, is not done twice.
        """
        self.check(features, known_finite=known_finite)
        # non_blocking: the one sync per batch is the caller's read-back (see SoftmaxRegression.preprocess).
        # float64: values past float32's range (1e300) are finite and valid; predict_proba handles them.
        x = features
        if x.dtype is not torch.float64 or not (x.is_cpu and self.linear.weight.is_cpu):
            x = features.to(self.linear.weight.device, torch.float64, non_blocking=True)
        if not self.config.standardized:
            return x
        mean, std = self._standardization(x.device)
        # One new tensor (the caller's is never written to), then in place: (x - mean) / std. A value near
        # float64's limit may standardise past it; kept finite, its logit is still huge.
        return torch.sub(x, mean).div_(std).clamp_(-_FLOAT64_MAX, _FLOAT64_MAX)

    def _standardization(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) on ``device``, copied there once rather than per batch."""
        placed = self._placed
        if placed is None or placed[0] != device:
            placed = self._placed = (
                device,
                self._mean.to(device, non_blocking=True),
                self._std.to(device, non_blocking=True),
            )
        return placed[1], placed[2]

    def checked_rows(self, rows: list[list[float]]) -> list[array]:
        """Instances as value lists -> each as C doubles (what torch.tensor stores too), checked as ``check``
        checks a batch: some rows, in_features values each, all finite. What FrozenLogistic reads, with no
        tensor made and read back (``stacked`` makes one); finiteness is read from the floats, cheaper than
        two tensor ops for a few values."""
        width = self.config.in_features
        if rows and all(len(row) == width for row in rows):
            try:
                checked = [array("d", row) for row in rows]
            except (TypeError, OverflowError):  # not plain numbers: torch.tensor below names the problem
                pass
            else:
                for row in checked:
                    if not all(map(math.isfinite, row)):
                        raise InvalidInputError(_NOT_FINITE)
                return checked
        # Empty, ragged or not plain numbers: torch.tensor and check give the error. float64: float32 would
        # turn 1e300 into infinity.
        features = torch.tensor(rows, dtype=torch.float64)
        self.check(features)
        return [array("d", row) for row in features.tolist()]

    def check(self, features: torch.Tensor, *, known_finite: bool = False) -> None:
        """Raise InvalidInputError unless ``features`` is a non-empty [N, in_features] batch, all finite."""
        if features.dim() != 2 or features.shape[0] == 0 or features.shape[1] != self.config.in_features:
            raise InvalidInputError(
                f"expected a batch of instances with {self.config.in_features} features each, "
                f"got shape {list(features.shape)}"
            )
        if not known_finite and not bool(torch.isfinite(features).all()):
            raise InvalidInputError(_NOT_FINITE)

    def labels(self, probabilities: torch.Tensor) -> torch.Tensor:
        return (probabilities >= self.config.threshold).long()

    def raw_weights(self) -> tuple[list[float], float]:
        """(W, b) per raw unit of each feature: the same predictions with standardisation folded in."""
        weight = self.linear.weight.detach().double().cpu().squeeze(0)
        bias = self.linear.bias.detach().double().cpu().item()
        if not self.config.standardized:
            return weight.tolist(), bias
        mean, std = torch.tensor(self.config.mean).double(), torch.tensor(self.config.std).double()
        return (weight / std).tolist(), bias - (weight * mean / std).sum().item()

    def explain(self, features: torch.Tensor, *, known_finite: bool = False) -> Explanation:
        """Raw features -> each feature's share of the logit z = w.x + b (P(y=1) = sigmoid(z)); the baseline
        is the bias, the logit of features at zero (as the model takes them)."""
        inputs = self.preprocess(features, known_finite=known_finite)
        classes = torch.zeros(inputs.shape[0], 1, dtype=torch.long, device=inputs.device)
        explanation = explain_linear(
            self.linear, inputs, torch.zeros_like(inputs[0]), classes, self.logits(inputs)
        )
        self._check_adds_up(explanation)
        return explanation

    def _check_adds_up(self, explanation: Explanation) -> None:
        """Raise InvalidInputError where a feature's share of the logit, or the logit itself, overflows
        float64: an infinite share cannot add up to the logit, and JSON has no infinity to send."""
        overflows = ~torch.isfinite(explanation.contributions[:, 0])  # [N, F]
        if bool(overflows.any()):
            row, column = (int(i) for i in overflows.nonzero()[0])
            name = self.config.feature_names[column]
            raise InvalidInputError(
                f"instance {row} cannot be explained: the share of feature {name!r} in the logit "
                "(weight x value) exceeds float64's range"
            )
        logit_overflows = ~torch.isfinite(explanation.logits[:, 0])
        if bool(logit_overflows.any()):
            row = int(logit_overflows.nonzero()[0, 0])
            raise InvalidInputError(f"instance {row} cannot be explained: its logit exceeds float64's range")


def _scaled_logits(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(x / scale) @ W.T * scale + b in float64, ``scale`` each row's largest magnitude, at least 1 (one op,
    exact: no arithmetic); the products are written into the matmul's fresh result."""
    scale = torch.linalg.vector_norm(x, math.inf, dim=-1, keepdim=True).clamp_(min=1.0)
    return torch.mm(x / scale, weight_t).mul_(scale).add_(bias)


def stacked(rows: Sequence[array], width: int) -> torch.Tensor:
    """Rows of ``width`` C doubles (``checked_rows``) -> a float64 [N, width] tensor on one buffer of them."""
    values = rows[0] if len(rows) == 1 else array("d", b"".join(rows))
    return torch.frombuffer(values, dtype=torch.float64).view(len(rows), width)


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    """[N, 1] float64 logits -> P(y=1) [N] float32, in place on them (.float() parses its arguments faster
    than .to(torch.float32))."""
    return logits.sigmoid_().float().squeeze(-1)


class FrozenLogistic:
    """``predict_proba(preprocess(features))`` as Python floats, bit for bit, from a snapshot of a model's
    weights (serving takes one per loaded version; take a new one after they change).

    On a few rows, torch's cost per call (microseconds) is most of the work, so there the steps that are
    one correctly rounded IEEE operation per value, in torch's elementwise kernels as in Python floats,
    are done on Python floats: standardising, clamping, the row's largest magnitude and the division by
    it, scaling back, adding the bias and rounding to float32; so is the sigmoid of fewer than four rows,
    which torch computes with the C library's exp, as Python does. The dot product, whose rounding is
    torch's own (its BLAS), stays a torch call: three calls instead of fourteen.
    Larger batches, and models off the CPU, take ``predict_proba``'s tensor ops, on the same snapshot.
    """

    MOST_VALUES = 256  # rows x features answered on Python floats; above, torch's vector kernels win

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model
        config = model.config
        self.width = config.in_features
        self.standardization = tuple(zip(config.mean, config.std, strict=True)) or None
        self.on_cpu = model.linear.weight.is_cpu
        # Copies of logits()' own operands (clone keeps W.T's layout): the same matmul on the same values.
        self.weight_t, self.bias_tensor = (t.detach().clone() for t in model._float64_parameters())
        self.bias = float(self.bias_tensor.cpu()[0])

    def __call__(self, rows: Sequence[array]) -> list[float]:
        """Checked rows of C doubles (``LogisticRegression.checked_rows``) -> P(y=1) per row."""
        if self.on_cpu and len(rows) * self.width <= self.MOST_VALUES:
            return self._on_floats(rows)
        x = self.model.preprocess(stacked(rows, self.width), known_finite=True)
        return _probabilities(_scaled_logits(x, self.weight_t, self.bias_tensor)).cpu().tolist()

    def _on_floats(self, rows: Sequence[array]) -> list[float]:
        scaled, scales = array("d"), array("d")
        standardization = self.standardization
        for row in rows:
            if standardization is not None:  # (x - mean) / std, kept within float64's range
                row = [
                    min(max((value - mean) / std, -_FLOAT64_MAX), _FLOAT64_MAX)
                    for value, (mean, std) in zip(row, standardization, strict=True)
                ]
            scale = max(1.0, *map(abs, row))  # the row's largest magnitude, at least 1 (see logits)
            scales.append(scale)
            scaled.extend([value / scale for value in row])
        x = torch.frombuffer(scaled, dtype=torch.float64).view(len(rows), self.width)
        bias = self.bias
        dots = torch.mm(x, self.weight_t).tolist()
        logits = [dot * scale + bias for (dot,), scale in zip(dots, scales, strict=True)]
        if len(logits) < _SCALAR_SIGMOID_VALUES:
            probabilities = [_sigmoid(logit) for logit in logits]
        else:
            probabilities = torch.frombuffer(array("d", logits), dtype=torch.float64).sigmoid_().tolist()
        return array("f", probabilities).tolist()  # .float(): float32's nearest, as torch rounds


# torch's sigmoid takes a run of fewer values than two vector registers hold through its scalar loop,
# 1 / (1 + exp(-z)) with the C library's exp, which math.exp calls too: the same bits. Two registers hold
# 4 float64 values or more on every CPU torch vectorises for (ARM's NEON: 2 a register).
_SCALAR_SIGMOID_VALUES = 4


def _sigmoid(z: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-z))
    except OverflowError:  # exp(-z) beyond float64's range: C's exp gives infinity, and 1 / infinity is 0
        return 0.0
