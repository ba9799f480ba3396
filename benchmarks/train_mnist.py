"""Time MNIST softmax regression trained the tutorial's way against our pipeline, in one process.

    python benchmarks/train_mnist.py --data-root ../shared/data

(a) tutorial way: DataLoader over torchvision MNIST(transform=ToTensor()), batch 128, shuffle, drop_last,
    SGD lr 0.1, 15 epochs, CrossEntropyLoss; then evaluated correctly (test pixels scaled like training).
(b) ours, default recipe, through training.mnist's functions (whole tensors, preprocessed once).
(c) ours, tutorial recipe: same hyperparameters as (a) in our pipeline.
Seconds are wall time including data loading: (a) reads and converts images every epoch, so loading is part
of its training loop; for (b) and (c) the epochs-only time is shown as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout works without installing

from training import mnist
from training.common import DEVICE_CHOICES, choose_device, run_cli, set_cpu_threads

TUTORIAL = mnist.RECIPES["tutorial"]  # (a) and (c) both follow it, so their ratio compares like with like


def tutorial_way(root: Path, recipe: mnist.Recipe, seed: int, device: torch.device) -> tuple[float, float]:
    """The tutorial's loop, unchanged except for the evaluation. Returns (seconds, test accuracy)."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    train = MNIST(root=str(root), train=True, transform=transforms.ToTensor())
    test = MNIST(root=str(root), train=False, transform=transforms.ToTensor())
    loader = DataLoader(train, batch_size=recipe.batch_size, shuffle=True, drop_last=True)
    linear = nn.Linear(784, 10).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(linear.parameters(), lr=recipe.lr)
    epochs = recipe.epochs
    for epoch in range(epochs):
        for images, labels in loader:
            loss = criterion(linear(images.view(-1, 784).to(device)), labels.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"  tutorial way: epoch {epoch + 1}/{epochs} loss {loss.item():.4f}", flush=True)
    # The tutorial fed raw 0..255 test pixels to a model trained on 0..1; here they are scaled the same way.
    with torch.no_grad():
        x_test = test.data.view(-1, 784).float().div(255).to(device)
        accuracy = (linear(x_test).argmax(1) == test.targets.to(device)).float().mean().item()
    return time.perf_counter() - started, accuracy


def ours(root: Path, recipe: mnist.Recipe, seed: int, device: torch.device) -> tuple[float, float, float]:
    """Our pipeline. Returns (total seconds incl. loading, epochs-only seconds, test accuracy)."""
    started = time.perf_counter()
    data = mnist.load_mnist(root)
    result = mnist.fit(data, recipe, seed=seed, device=device)
    return time.perf_counter() - started, result["train_seconds"], result["test"]["accuracy"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--data-root",
        type=Path,
        default=Path("../shared/data"),
        help="torchvision root holding MNIST/raw (default: ../shared/data)",
    )
    p.add_argument(
        "--epochs-tutorial",
        type=int,
        default=TUTORIAL.epochs,
        help=f"epochs for (a) and (c); the reported figure uses {TUTORIAL.epochs} (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for both (default: 0)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu", help="(default: cpu)")
    p.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads for all runs, 0 = default (default: 1)"
    )
    return run_cli(p, run, argv)


def run(args: argparse.Namespace) -> int:
    device = choose_device(args.device)
    set_cpu_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")

    tutorial = dataclasses.replace(TUTORIAL, epochs=args.epochs_tutorial)
    tutorial_seconds, tutorial_accuracy = tutorial_way(args.data_root, tutorial, args.seed, device)
    default_seconds, default_epochs, default_accuracy = ours(
        args.data_root, mnist.RECIPES["default"], args.seed, device
    )
    recipe_seconds, recipe_epochs, recipe_accuracy = ours(args.data_root, tutorial, args.seed, device)

    print()
    print(
        f"(a) tutorial way, {args.epochs_tutorial} epochs: {tutorial_seconds:7.2f} s  "
        f"test accuracy {tutorial_accuracy:.2%}"
    )
    print(
        f"(b) ours, default recipe:   {default_seconds:7.2f} s  test accuracy {default_accuracy:.2%}  "
        f"(epochs only {default_epochs:.2f} s)"
    )
    print(
        f"(c) ours, tutorial recipe:  {recipe_seconds:7.2f} s  test accuracy {recipe_accuracy:.2%}  "
        f"(epochs only {recipe_epochs:.2f} s)"
    )
    print(
        f"speed ratio (a)/(b): {tutorial_seconds / default_seconds:.1f}x faster, "
        f"(a)/(c): {tutorial_seconds / recipe_seconds:.1f}x faster (same recipe)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
