"""The MNIST training report: loss curve, confusion matrix and sample test digits in one PNG."""

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
