"""Running the served models on request data. One device-to-host read per batch, nothing more."""

from __future__ import annotations

import time

import torch

from app.observability.metrics import INFERENCE_SECONDS, PREDICTION_COUNTS
from models import Checkpoint

# Label children and label values made once: a request then pays one observe, and a count per prediction.
_LOGISTIC_SECONDS = INFERENCE_SECONDS.labels("logistic")
_DIGIT_SECONDS = INFERENCE_SECONDS.labels("mnist")
_LOGISTIC_LABELS = [("logistic", str(label)) for label in (0, 1)]
_DIGITS = [("mnist", str(digit)) for digit in range(10)]


def predict_logistic(
    checkpoint: Checkpoint, rows: list[list[float]], *, known_finite: bool = False
) -> tuple[list[float], list[int]]:
    """Feature rows -> (P(y=1) per row, label per row under the checkpoint's threshold).

    ``known_finite``: the rows come from a schema that refuses NaN and infinity (see the preprocess).
    """
    model = checkpoint.model
    features = torch.tensor(rows, dtype=torch.float64)  # float32 would turn 1e300 into infinity
    started = time.perf_counter()
    with torch.inference_mode():
        probabilities = model.predict_proba(model.preprocess(features, known_finite=known_finite))
        probabilities = probabilities.cpu().tolist()
    _LOGISTIC_SECONDS.observe(time.perf_counter() - started)
    threshold = model.config.threshold
    labels = [int(p >= threshold) for p in probabilities]
    _count(_LOGISTIC_LABELS, labels)
    return probabilities, labels


def predict_digits(checkpoint: Checkpoint, pixels: torch.Tensor) -> tuple[list[int], list[list[float]]]:
    """Raw 0..255 pixels [N, 28, 28] or [N, 784] -> (digit per image, ten probabilities per image)."""
    started = time.perf_counter()
    with torch.inference_mode():
        probabilities = checkpoint.model.predict_proba(pixels).cpu()
    _DIGIT_SECONDS.observe(time.perf_counter() - started)
    digits = probabilities.argmax(dim=-1).tolist()
    _count(_DIGITS, digits)
    return digits, probabilities.tolist()


def _count(series: list[tuple[str, str]], classes: list[int]) -> None:
    counts = PREDICTION_COUNTS.counts
    for cls in classes:
        counts[series[cls]] += 1
