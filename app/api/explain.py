"""Explanations and inputs as the API shows them: models/' exact tensors -> the response schemas."""

from __future__ import annotations

import base64
import io
from typing import Literal

import torch
from PIL import Image

from app.schemas.predict import (
    DigitContributions,
    DigitExplanation,
    DigitInput,
    FeatureContribution,
    LogisticExplanation,
)
from models.explanation import Explanation

DigitInclude = Literal["input", "explanation"]
LogisticInclude = Literal["explanation"]


def digit_input(pixels: torch.Tensor) -> DigitInput:
    """uint8 (or 0..255 float) [28, 28] or [784] -> the PNG and the pixel rows the model saw."""
    image = pixels.reshape(28, 28).round().clamp(0, 255).to(torch.uint8)
    buffer = io.BytesIO()
    Image.frombytes("L", (28, 28), bytes(image.flatten().tolist())).save(buffer, "PNG", optimize=True)
    return DigitInput(png=base64.b64encode(buffer.getvalue()).decode("ascii"), pixels=image.tolist())


def digit_explanations(explanation: Explanation) -> list[DigitExplanation]:
    classes = explanation.classes.cpu().tolist()
    logits = explanation.logits.gather(1, explanation.classes).cpu().tolist()
    baseline = explanation.baseline.cpu().tolist()
    maps = explanation.contributions.reshape(*explanation.classes.shape, 28, 28).cpu().tolist()
    return [
        DigitExplanation(
            **{
                slot: DigitContributions(digit=digit, logit=logit, baseline=base, contributions=pixels)
                for slot, digit, logit, base, pixels in zip(
                    ("predicted", "runner_up"), row_classes, row_logits, row_baseline, row_maps, strict=True
                )
            }
        )
        for row_classes, row_logits, row_baseline, row_maps in zip(
            classes, logits, baseline, maps, strict=True
        )
    ]


def logistic_explanations(
    explanation: Explanation, rows: list[list[float]], feature_names: tuple[str, ...]
) -> list[LogisticExplanation]:
    logits = explanation.logits[:, 0].cpu().tolist()
    bias = explanation.baseline[:, 0].cpu().tolist()
    contributions = explanation.contributions[:, 0].cpu().tolist()
    return [
        LogisticExplanation(
            logit=logit,
            bias=b,
            contributions=[
                FeatureContribution(feature=name, value=value, contribution=share)
                for name, value, share in zip(feature_names, row, shares, strict=True)
            ],
        )
        for logit, b, row, shares in zip(logits, bias, rows, contributions, strict=True)
    ]
