"""Exact explanations of linear models: each input's share of each class's logit.

A linear layer computes ``logit = W x + b``. Split against a reference input ``r`` (an input that says
nothing: a blank image, features at zero), that is exactly

    logit = (W r + b) + sum_i W_i (x_i - r_i)
            baseline     contributions

so the contributions plus the baseline add up to the logit the model computes, to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Explanation:
    """For N inputs and the K classes asked about, each of F features' share of the class's logit."""

    classes: torch.Tensor  # [N, K] the class each row of contributions explains
    logits: torch.Tensor  # [N, C] every class's logit, as the model computed them
    baseline: torch.Tensor  # [N, K] the logit of the reference input
    contributions: torch.Tensor  # [N, K, F] summing, with the baseline, to the class's logit


@torch.no_grad()
def explain_linear(
    linear: nn.Linear,
    inputs: torch.Tensor,
    reference: torch.Tensor,
    classes: torch.Tensor,
    logits: torch.Tensor,
) -> Explanation:
    """``inputs`` [N, F] as the layer takes them; ``reference`` [F]; ``classes`` [N, K] class indices;
    ``logits`` [N, C] as the model computed them from ``inputs``.

    The contributions are computed in float64, so their sum differs from the model's logit by its rounding.
    """
    weight = linear.weight.double()[classes]  # [N, K, F]
    offset = (inputs.double() - reference.double())[:, None, :]
    reference_logits = linear.weight.double() @ reference.double() + linear.bias.double()  # [C]
    return Explanation(
        classes=classes,
        logits=logits,
        baseline=reference_logits[classes],
        contributions=weight * offset,
    )
