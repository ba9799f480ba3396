"""Training reports, one PNG each: MNIST (loss curve, confusion matrix, sample digits) and logistic."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt
import torch

from models.files import atomic_file

SAMPLE_DIGITS = 16


def write_report(
    path: str | Path,
    epoch_losses: list[float],
    test: dict[str, Any],
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
) -> Path:
    """Write the report PNG; ``test`` is what training.mnist.evaluate returns."""
    path = Path(path)
    fig = plt.figure(figsize=(13, 8.5), layout="constrained")
    fig.suptitle(f"MNIST softmax regression — test accuracy {test['accuracy']:.2%}", fontsize=14)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.35, 1])
    loss_ax, confusion_ax = top.subplots(1, 2, width_ratios=[1, 1.1])

    epochs = range(1, len(epoch_losses) + 1)
    loss_ax.plot(epochs, epoch_losses, marker="o")
    loss_ax.set(title="Training loss (mean per epoch)", xlabel="epoch", ylabel="cross-entropy")
    loss_ax.grid(alpha=0.3)

    confusion = torch.tensor(test["confusion"])
    classes = range(len(confusion))
    shade = confusion.log1p()
    confusion_ax.imshow(shade.numpy(), cmap="Blues")  # log scale, so off-diagonal errors stay visible
    threshold = shade.max().item() / 2
    confusion_ax.set(
        title="Confusion matrix (test)", xlabel="predicted", ylabel="true", xticks=classes, yticks=classes
    )
    for (true, predicted), count in zip(
        torch.cartesian_prod(torch.arange(len(classes)), torch.arange(len(classes))).tolist(),
        confusion.flatten().tolist(),
        strict=True,
    ):
        color = "white" if math.log1p(count) > threshold else "black"
        confusion_ax.text(predicted, true, str(count), ha="center", va="center", fontsize=7, color=color)

    bottom.suptitle("First test digits: predicted / true (red = wrong)", fontsize=11)
    shown = min(SAMPLE_DIGITS, len(test_labels))
    digit_axes = bottom.subplots(2, SAMPLE_DIGITS // 2).flatten()
    for i, ax in enumerate(digit_axes):
        ax.axis("off")
        if i >= shown:
            continue
        predicted, true = int(test["predictions"][i]), int(test_labels[i])
        ax.imshow(test_images[i].cpu().numpy(), cmap="gray")
        ax.set_title(f"{predicted} / {true}", color="black" if predicted == true else "red", fontsize=11)

    with atomic_file(path) as f:  # like the checkpoint beside it, never half written
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
    return path


def write_logistic_report(
    path: str | Path, *, model: Any, costs: list[float], x: torch.Tensor, y: torch.Tensor
) -> Path:
    """The logistic model's report: the cost per step; each row's logit on the sigmoid, as the tutorial
    draws it; and, for two features, the data in raw units with the decision boundary."""
    names = model.config.feature_names
    two = len(names) == 2
    fig, axes = plt.subplots(1, 3 if two else 2, figsize=(15 if two else 10, 4.5), layout="constrained")
    fig.suptitle(f"Logistic regression on {', '.join(names)}", fontsize=13)

    loss_ax, sigmoid_ax = axes[0], axes[1]
    loss_ax.plot(range(len(costs)), costs)
    loss_ax.set(title="Training cost", xlabel="step", ylabel="objective (log-loss)", yscale="log")
    loss_ax.grid(alpha=0.3)

    with torch.no_grad():
        logits = model.linear(model.preprocess(x).to(model.linear.weight.dtype)).squeeze(-1).cpu()
    z = torch.linspace(min(logits.min().item(), -6), max(logits.max().item(), 6), 200)
    sigmoid_ax.plot(z, torch.sigmoid(z), color="black", lw=1)
    for label, color in ((0, "tab:blue"), (1, "tab:red")):
        chosen = y == label
        sigmoid_ax.scatter(logits[chosen], y[chosen], s=12, color=color, alpha=0.5, label=f"y = {label}")
    sigmoid_ax.axhline(model.config.threshold, color="gray", ls="--", lw=1)
    sigmoid_ax.set(title="P(y=1) = sigmoid(W·x + b); rows at their label", xlabel="W·x + b", ylabel="P(y=1)")
    sigmoid_ax.legend(loc="upper left")

    if two:
        data_ax = axes[2]
        for label, color in ((0, "tab:blue"), (1, "tab:red")):
            chosen = y == label
            data_ax.scatter(x[chosen, 0], x[chosen, 1], s=12, color=color, label=f"y = {label}")
        # The boundary is where W·x + b equals the threshold's logit, in raw units.
        (w1, w2), b = model.raw_weights()
        level = math.log(model.config.threshold / (1 - model.config.threshold))
        x1 = torch.linspace(x[:, 0].min().item(), x[:, 0].max().item(), 2)
        if w2:
            data_ax.plot(x1, (level - b - w1 * x1) / w2, color="black", label="decision boundary")
            data_ax.set_ylim(*_padded(x[:, 1]))
        elif w1:
            data_ax.axvline((level - b) / w1, color="black", label="decision boundary")
        data_ax.set(title="Data and decision boundary", xlabel=names[0], ylabel=names[1])
        data_ax.legend(loc="best")

    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
    return Path(path)


def _padded(values: torch.Tensor) -> tuple[float, float]:
    low, high = values.min().item(), values.max().item()
    margin = (high - low) * 0.05 or 1.0
    return low - margin, high + margin
