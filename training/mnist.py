"""Train the MNIST softmax regression (one Linear(784, 10)) on whole tensors: no DataLoader.

    python -m training.mnist --data-root ../shared/data  # default recipe, 1-2 s of epochs on 2 cores
    python -m training.mnist --recipe tutorial --out checkpoints/mnist-tutorial.pt

The images are preprocessed once, by the model's own `preprocess` (what serving uses), then batches are
slices of a seeded random permutation.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from models import MnistConfig, SoftmaxRegression
from training.common import (
    DEVICE_CHOICES,
    UsageError,
    add_output_arguments,
    choose_device,
    destination,
    log,
    progress,
    run_cli,
    save_run,
    seed_everything,
    set_cpu_threads,
)

PROG = "digit-train-mnist"
DEFAULT_OUT = Path("checkpoints/mnist.pt")
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DRY_RUN_BATCHES = 2


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained weights besides the seed and the data."""

    epochs: int
    lr: float
    batch_size: int
    momentum: float  # SGD momentum (Nesterov when > 0)
    schedule: str  # "cosine": per-step cosine decay to 0; "constant"
    mean: float  # input normalization, stored in the checkpoint's MnistConfig
    std: float


RECIPES = {
    # Tuned on a 50k/10k split of the training set (never on test): 93.0 % validation accuracy.
    "default": Recipe(
        epochs=8, lr=0.1, batch_size=256, momentum=0.9, schedule="cosine", mean=0.1307, std=0.3081
    ),
    # The classic tutorial: plain SGD on ToTensor-scaled pixels (x / 255), no normalization.
    "tutorial": Recipe(
        epochs=15, lr=0.1, batch_size=128, momentum=0.0, schedule="constant", mean=0.0, std=1.0
    ),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default="default",
        help="default: SGD+Nesterov 0.9, lr 0.1 cosine, batch 256, 8 epochs, normalized inputs;\n"
        "tutorial: SGD lr 0.1, batch 128, 15 epochs, pixels / 255 (default: default)",
    )
    p.add_argument("--epochs", type=int, help="passes over the 60k training images (default: from recipe)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: from recipe)")
    p.add_argument("--batch-size", type=int, help="images per SGD step (default: from recipe)")
    p.add_argument("--seed", type=int, default=0, help="seed for init and shuffling (default: 0)")
    p.add_argument(
        "--device", choices=DEVICE_CHOICES, default="auto", help="auto: CUDA if available (default: auto)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch, 0 = one per core. One is faster here: a 256x784 @ 784x10 matmul\n"
        "is too small to split, and extra threads stall when the cores are busy (default: 1)",
    )
    p.add_argument(
        "--data-root", type=Path, default=Path("data"), help="folder holding MNIST/raw (default: data)"
    )
    p.add_argument("--download", action="store_true", help="download MNIST into --data-root when missing")
    add_output_arguments(p, DEFAULT_OUT)
    p.add_argument(
        "--report", action=argparse.BooleanOptionalAction, help="PNG report (default: on, off in --dry-run)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=f"smoke test: {DRY_RUN_BATCHES} batches of 1 epoch; saves only when --out is given",
    )
    return p


def resolve_recipe(args: argparse.Namespace) -> Recipe:
    """The named recipe with any --epochs/--lr/--batch-size overrides applied."""
    overrides = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size") if getattr(args, k) is not None}
    recipe = dataclasses.replace(RECIPES[args.recipe], **overrides)
    if recipe.epochs < 1 or recipe.lr <= 0 or recipe.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be >= 1 and --lr > 0")
    return recipe


def load_mnist(root: Path, download: bool = False) -> dict[str, torch.Tensor]:
    """The raw uint8 images [N, 28, 28] and int64 labels of both splits, read through torchvision."""
    from torchvision.datasets import MNIST  # imported here: serving-only installs lack torchvision

    raw = (Path(root) / "MNIST" / "raw").resolve()
    put_files = f"Put the four IDX files ({', '.join(RAW_FILES)}) in {raw}"
    if not download and not all((raw / name).is_file() for name in RAW_FILES):
        raise UsageError(f"MNIST not found in {raw}. {put_files}, or pass --download to fetch them.")
    try:
        train = MNIST(root=str(root), train=True, download=download)
        test = MNIST(root=str(root), train=False, download=download)
    except Exception as exc:  # download failed (no network, mirror down) or unreadable files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        action = "download" if download else "read"
        raise UsageError(f"could not {action} MNIST in {raw} ({reason}). {put_files}.") from None
    return {
        "train_images": train.data,
        "train_labels": train.targets,
        "test_images": test.data,
        "test_labels": test.targets,
    }


def make_optimizer(
    model: SoftmaxRegression, recipe: Recipe, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0
    )
    if recipe.schedule == "cosine":
        # Per step, down to zero at the end, so the final epoch settles instead of bouncing.
        decay = lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))  # noqa: E731
    else:
        decay = lambda step: 1.0  # noqa: E731
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, decay)


def train_one_epoch(
    model: SoftmaxRegression,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    batch_size: int,
    generator: torch.Generator,
    max_batches: int | None = None,
) -> float:
    """One shuffled pass over preprocessed ``inputs`` [N, 784]; returns the mean batch loss."""
    model.train()
    order = torch.randperm(len(labels), generator=generator).to(inputs.device)
    starts = range(0, len(labels), batch_size)[:max_batches]
    total = torch.zeros((), device=inputs.device)  # summed on the device: no sync per step
    for start in progress(starts, desc="batches", unit="batch"):
        batch = order[start : start + batch_size]
        loss = F.cross_entropy(model(inputs[batch]), labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.detach()
    return total.item() / len(starts)


@torch.no_grad()
def evaluate(model: SoftmaxRegression, inputs: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """Accuracy, mean loss, predictions and the confusion matrix (rows: true digit, columns: predicted)."""
    model.eval()
    logits = model(inputs)
    predictions = logits.argmax(dim=1)
    classes = model.config.num_classes
    confusion = torch.bincount(labels * classes + predictions, minlength=classes * classes)
    return {
        "accuracy": (predictions == labels).float().mean().item(),
        "loss": F.cross_entropy(logits, labels).item(),
        "predictions": predictions.cpu(),
        "confusion": confusion.reshape(classes, classes).cpu().tolist(),
    }


def fit(
    data: dict[str, torch.Tensor],
    recipe: Recipe,
    *,
    seed: int,
    device: torch.device,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Preprocess once, train, evaluate on the test split: model, epoch losses, test results, seconds."""
    generator = seed_everything(seed)
    model = SoftmaxRegression(MnistConfig(mean=recipe.mean, std=recipe.std)).to(device)
    train_inputs = model.preprocess(data["train_images"])
    train_labels = data["train_labels"].to(device)
    steps_per_epoch = math.ceil(len(train_labels) / recipe.batch_size)
    if max_batches is not None:
        steps_per_epoch = min(steps_per_epoch, max_batches)
    optimizer, scheduler = make_optimizer(model, recipe, recipe.epochs * steps_per_epoch)

    epoch_losses = []
    started = time.perf_counter()
    for epoch in range(1, recipe.epochs + 1):
        loss = train_one_epoch(
            model, train_inputs, train_labels, optimizer, scheduler, recipe.batch_size, generator, max_batches
        )
        epoch_losses.append(loss)
        log(f"epoch {epoch:2d}/{recipe.epochs}  loss {loss:.4f}  lr {scheduler.get_last_lr()[0]:.4g}")
    train_seconds = time.perf_counter() - started

    test = evaluate(model, model.preprocess(data["test_images"]), data["test_labels"].to(device))
    return {"model": model, "epoch_losses": epoch_losses, "test": test, "train_seconds": train_seconds}


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    device = choose_device(args.device)
    set_cpu_threads(args.threads)
    recipe = resolve_recipe(args)
    where = destination(args, DEFAULT_OUT)
    if args.dry_run:
        recipe = dataclasses.replace(recipe, epochs=1)
    data = load_mnist(args.data_root, download=args.download)
    log(f"MNIST: {len(data['train_labels'])} train / {len(data['test_labels'])} test images on {device}")
    result = fit(
        data, recipe, seed=args.seed, device=device, max_batches=DRY_RUN_BATCHES if args.dry_run else None
    )
    test = result["test"]
    total_seconds = time.perf_counter() - started
    log(
        f"test accuracy {test['accuracy']:.2%}  test loss {test['loss']:.4f}  "
        f"training {result['train_seconds']:.2f} s (epochs only), {total_seconds:.2f} s in all"
    )

    if where is None:
        return 0
    metadata = {
        "metrics": {
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "final_loss": result["epoch_losses"][-1],
            "train_seconds": result["train_seconds"],
            "total_seconds": total_seconds,
        },
        "data": {
            "dataset": "MNIST",
            "train_size": len(data["train_labels"]),
            "test_size": len(data["test_labels"]),
            "root": str(args.data_root),
        },
        "recipe": {
            "name": args.recipe,
            **dataclasses.asdict(recipe),
            "optimizer": "SGD",
            "nesterov": recipe.momentum > 0,
            "loss": "cross_entropy",
            "seed": args.seed,
        },
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "dry_run": args.dry_run,
    }
    extra = {"epoch_losses": result["epoch_losses"], "confusion_matrix": test["confusion"]}
    report = None
    if args.report if args.report is not None else not args.dry_run:
        from training.report import write_report  # matplotlib is slow to import; only when needed

        report = functools.partial(
            write_report,
            epoch_losses=result["epoch_losses"],
            test=test,
            test_images=data["test_images"],
            test_labels=data["test_labels"],
        )
    save_run(where, result["model"], metadata=metadata, extra=extra, report=report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
