"""Train the binary logistic regression: the classic 6-point toy set, or your own CSV (x1,x2,y).

python -m training.logistic                       # reproduces the tutorial: cost 0.019852 at epoch 1000
python -m training.logistic --csv data.csv --val-fraction 0.2 --out checkpoints/logistic.pt
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from models import LogisticConfig, LogisticRegression
from training.common import (
    DEVICE_CHOICES,
    UsageError,
    choose_device,
    log,
    output_path,
    progress,
    run_cli,
    save_run,
    seed_everything,
)

PROG = "digit-train-logistic"
DEFAULT_OUT = Path("checkpoints/logistic.pt")
FEATURES = ("x1", "x2")
LABEL = "y"
TOY_X = [[1, 2], [2, 3], [3, 1], [4, 3], [5, 3], [6, 2]]
TOY_Y = [0, 0, 0, 1, 1, 1]
LOG_EVERY = 100  # epochs between printed cost lines, as in the tutorial


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--csv", type=Path, help="training data with header x1,x2,y and y in {0,1} (default: toy set)"
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="fraction of CSV rows held out for validation, seeded (default: 0)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=1000,
        help="full-batch epochs; like the tutorial, epochs 0..N run, i.e. N+1 steps (default: 1000)",
    )
    p.add_argument("--lr", type=float, default=1.0, help="SGD learning rate (default: 1.0)")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="probability at or above which the served label is 1 (default: 0.5)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the validation split (default: 0)")
    p.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="auto = CUDA when available, else CPU (default: auto)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"checkpoint path; metrics go next to it as <stem>.metrics.json (default: {DEFAULT_OUT})",
    )
    p.add_argument(
        "--model-version", default=None, help="version recorded in the checkpoint (default: UTC time)"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="smoke test: 1 epoch; saves only when --out is given"
    )
    return p


def toy_dataset() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(TOY_X, dtype=torch.float32), torch.tensor(TOY_Y, dtype=torch.float32)


def read_csv(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of x1,x2,y -> ([N, 2] features, [N] labels in {0., 1.}); UsageError names file and line."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            if not header:
                raise UsageError(f"{path} is empty (expected a header x1,x2,y and data rows)")
            missing = [c for c in (*FEATURES, LABEL) if c not in header]
            if missing:
                raise UsageError(f"{path}: missing column {', '.join(missing)} (expected header x1,x2,y)")
            features, labels = [], []
            for row in reader:
                line = reader.line_num
                features.append([_parse_number(path, line, row, c) for c in FEATURES])
                label = _parse_number(path, line, row, LABEL)
                if label not in (0.0, 1.0):
                    raise UsageError(f"{path} line {line}: y must be 0 or 1, got {row[LABEL]!r}")
                labels.append(label)
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except (IsADirectoryError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot be read as CSV ({exc})") from None
    if not labels:
        raise UsageError(f"{path} has a header but no data rows")
    return torch.tensor(features, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32)


def _parse_number(path: Path, line: int, row: dict[str, Any], column: str) -> float:
    text = row.get(column)
    if text is None or text.strip() == "":
        raise UsageError(f"{path} line {line}: {column} is missing")
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{path} line {line}: {column} value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{path} line {line}: {column} value {text!r} is not a finite number")
    return value


def split(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Seeded random hold-out: (x_train, y_train, x_val, y_val); the val pair is None without a split."""
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    n_val = round(len(y) * val_fraction)
    if n_val == 0:
        return x, y, None, None
    if n_val >= len(y):
        raise UsageError(f"--val-fraction {val_fraction} leaves no training rows out of {len(y)}")
    order = torch.randperm(len(y), generator=generator)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def train_one_epoch(
    model: LogisticRegression, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer
) -> float:
    """One full-batch step; returns the cost before the step (what the tutorial prints)."""
    model.train()
    cost = F.binary_cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    cost.backward()
    optimizer.step()
    return cost.item()


@torch.no_grad()
def evaluate(model: LogisticRegression, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    model.eval()
    probabilities = model(x)
    return {
        "loss": F.binary_cross_entropy(probabilities, y).item(),
        "accuracy": (model.labels(probabilities) == y.long()).float().mean().item(),
    }


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    device = choose_device(args.device)
    generator = seed_everything(args.seed)
    if args.epochs < 0 or args.lr <= 0:
        raise UsageError("--epochs must be >= 0 and --lr > 0")
    if args.csv is None:
        if args.val_fraction:
            raise UsageError("--val-fraction needs --csv (the toy set is too small to split)")
        x, y = toy_dataset()
        data = {"source": "toy", "rows": len(y)}
    else:
        x, y = read_csv(args.csv)
        data = {"source": "csv", "path": str(args.csv), "rows": len(y)}
    x_train, y_train, x_val, y_val = split(x, y, args.val_fraction, generator)
    data.update(train_rows=len(y_train), val_rows=0 if y_val is None else len(y_val))
    try:
        config = LogisticConfig(in_features=len(FEATURES), feature_names=FEATURES, threshold=args.threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    model = LogisticRegression(config).to(device)
    # The tutorial starts from W = 0, b = 0; that is what makes its printed costs reproducible.
    torch.nn.init.zeros_(model.linear.weight)
    torch.nn.init.zeros_(model.linear.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    x_train, y_train = x_train.to(device), y_train.to(device)

    epochs = 1 if args.dry_run else args.epochs
    history = []
    train_started = time.perf_counter()
    for epoch in progress(range(epochs + 1), desc="epochs", total=epochs + 1):
        cost = train_one_epoch(model, x_train, y_train, optimizer)
        if epoch % LOG_EVERY == 0 or epoch == epochs:
            history.append({"epoch": epoch, "cost": cost})
            log(f"Epoch {epoch:4d}/{epochs} Cost: {cost:.6f}")
    train_seconds = time.perf_counter() - train_started

    metrics: dict[str, Any] = {
        "final_loss": cost,
        "train_accuracy": evaluate(model, x_train, y_train)["accuracy"],
    }
    if x_val is not None:
        val = evaluate(model, x_val.to(device), y_val.to(device))
        metrics["val_loss"], metrics["val_accuracy"] = val["loss"], val["accuracy"]
    weight = model.linear.weight.detach().cpu().squeeze(0).tolist()
    bias = model.linear.bias.item()
    log(f"W = [{', '.join(f'{w:.4f}' for w in weight)}]  b = {bias:.4f}  " + _format_metrics(metrics))

    out = output_path(args, DEFAULT_OUT)
    if out is None:
        return 0
    recipe = {
        "optimizer": "SGD",
        "lr": args.lr,
        "epochs": epochs,
        "batch": "full",
        "init": "zeros",
        "loss": "binary_cross_entropy",
        "threshold": args.threshold,
        "seed": args.seed,
    }
    metadata = {
        "metrics": metrics,
        "data": data,
        "recipe": recipe,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "device": str(device),
        "dry_run": args.dry_run,
    }
    extra = {"history": history, "weight": weight, "bias": bias}
    written = save_run(model, out, version=args.model_version, metadata=metadata, extra=extra)
    log(f"saved {' and '.join(map(str, written))}")
    return 0


def _format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


if __name__ == "__main__":
    raise SystemExit(main())
