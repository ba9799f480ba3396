"""Running the served models on request data. One device-to-host read per batch, nothing more."""

from __future__ import annotations

import torch

from models import Checkpoint


def predict_logistic(checkpoint: Checkpoint, rows: list[list[float]]) -> tuple[list[float], list[int]]:
    """Feature rows -> (P(y=1) per row, label per row under the checkpoint's threshold)."""
    model = checkpoint.model
    features = torch.tensor(rows, dtype=torch.float32)
    with torch.inference_mode():
        probabilities = model(model.preprocess(features)).cpu().tolist()
    threshold = model.config.threshold
    return probabilities, [int(p >= threshold) for p in probabilities]


def predict_digits(checkpoint: Checkpoint, pixels: torch.Tensor) -> tuple[list[int], list[list[float]]]:
    """Raw 0..255 pixels [N, 28, 28] or [N, 784] -> (digit per image, ten probabilities per image)."""
    with torch.inference_mode():
        probabilities = checkpoint.model.predict_proba(pixels).cpu()
    return probabilities.argmax(dim=-1).tolist(), probabilities.tolist()
