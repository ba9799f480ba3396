"""Train the binary logistic regression: the classic 6-point toy set, or your own CSV file.

    python -m training.logistic       # reproduces the tutorial: cost 0.019852 at epoch 1000
    python -m training.logistic --csv loans.csv --features income,age --label approved --positive yes \\
        --val-fraction 0.2 --repository model_repository --name loans

On a CSV the features are standardised with the training split's mean and standard deviation (stored in
the checkpoint; the model's preprocess applies them when serving), and L-BFGS minimises the same objective
as scikit-learn's LogisticRegression: mean log-loss + |W|^2 / (2 C N), until the gradient is below --tol.
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

from models import LogisticConfig, LogisticRegression
from training.common import (
    DEVICE_CHOICES,
    NotConvergedError,
    UsageError,
    add_output_arguments,
    choose_device,
    destination,
    log,
    progress,
    run_cli,
    save_run,
    seed_everything,
)
from training.tabular import read_table, warn_ignored

PROG = "digit-train-logistic"
DEFAULT_OUT = Path("checkpoints/logistic.pt")  # the committed toy-set model; a CSV run never writes it
FEATURES = ("x1", "x2")
LABEL = "y"
TOY_X = [[1, 2], [2, 3], [3, 1], [4, 3], [5, 3], [6, 2]]
TOY_Y = [0, 0, 0, 1, 1, 1]
LOG_EVERY = 100  # steps between printed cost lines, as in the tutorial
NO_DESTINATION = (
    "--csv needs a destination: --repository DIR --name NAME saves the next version of NAME, "
    f"--out FILE one file (the committed default {DEFAULT_OUT} is never overwritten by a CSV run)"
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    data = p.add_argument_group("data")
    data.add_argument("--csv", type=Path, help="training data with a header row (default: the toy set)")
    data.add_argument(
        "--features", type=_names, default=FEATURES, help="feature columns, in order (default: x1,x2)"
    )
    data.add_argument("--label", default=LABEL, help="label column (default: y)")
    data.add_argument(
        "--positive",
        metavar="VALUE",
        help="label value of class 1 when the labels are not 0/1, e.g. yes (default: labels are 0/1)",
    )
    data.add_argument(
        "--delimiter",
        type=_delimiter,
        help="field separator: ',', ';' or tab (default: told from the file)",
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="fraction of CSV rows held out for validation, seeded (default: 0)",
    )
    fit = p.add_argument_group("fit")
    fit.add_argument(
        "--optimizer",
        choices=("lbfgs", "sgd"),
        help="lbfgs: L-BFGS with a strong-Wolfe line search; sgd: full-batch gradient descent at --lr\n"
        "(default: lbfgs on a CSV, sgd on the toy set as in the tutorial)",
    )
    fit.add_argument(
        "--epochs",
        type=int,
        default=1000,
        help="cap on full-batch steps (SGD steps, L-BFGS iterations). The toy run does the tutorial's\n"
        "fixed 0..N, i.e. N+1 steps (default: 1000)",
    )
    fit.add_argument("--lr", type=float, default=1.0, help="SGD learning rate (default: 1.0)")
    fit.add_argument(
        "--tol",
        type=float,
        default=1e-6,
        help="converged when no component of the objective's gradient exceeds this (default: 1e-6)",
    )
    fit.add_argument(
        "--C",
        dest="inverse_l2",
        type=float,
        help="inverse L2 strength, as scikit-learn's C; inf for none\n"
        "(default: 1 on a CSV, inf on the toy set)",
    )
    fit.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        help="standardise features with the training split's mean and std (default: on for a CSV)",
    )
    fit.add_argument(
        "--allow-unconverged",
        action="store_true",
        help="save even when the gradient is still above --tol at the cap (default: exit 1, save nothing)",
    )
    fit.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="probability at or above which the served label is 1 (default: 0.5)",
    )
    fit.add_argument("--seed", type=int, default=0, help="seed for the validation split (default: 0)")
    fit.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="auto = CUDA when available, else CPU (default: auto)",
    )
    out = p.add_argument_group("output")
    add_output_arguments(out, DEFAULT_OUT)
    out.add_argument(
        "--report", action=argparse.BooleanOptionalAction, help="PNG report (default: on, off in --dry-run)"
    )
    out.add_argument(
        "--dry-run", action="store_true", help="smoke test: 1 step, not judged; saves only with a destination"
    )
    return p


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected distinct column names separated by commas, got {text!r}")
    return names


def _delimiter(text: str) -> str:
    text = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), got {text!r}")
    return text


@dataclass(frozen=True)
class Recipe:
    """How the weights are fitted. The tutorial's: SGD, no standardisation or penalty, a fixed schedule."""

    optimizer: str
    epochs: int
    lr: float
    tol: float
    inverse_l2: float  # scikit-learn's C; inf: no penalty
    standardize: bool
    fixed_schedule: bool  # the tutorial's N+1 steps on a separable set that has no optimum to reach


def resolve_recipe(args: argparse.Namespace) -> Recipe:
    toy = args.csv is None
    optimizer = args.optimizer or ("sgd" if toy else "lbfgs")
    recipe = Recipe(
        optimizer=optimizer,
        epochs=1 if args.dry_run else args.epochs,
        lr=args.lr,
        tol=args.tol,
        inverse_l2=args.inverse_l2 if args.inverse_l2 is not None else (math.inf if toy else 1.0),
        standardize=args.standardize if args.standardize is not None else not toy,
        fixed_schedule=toy and optimizer == "sgd",
    )
    if recipe.epochs < 0 or recipe.lr <= 0 or recipe.tol <= 0 or not recipe.inverse_l2 > 0:
        raise UsageError("--epochs must be >= 0, and --lr, --tol and --C > 0")
    return recipe


def toy_dataset() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(TOY_X, dtype=torch.float32), torch.tensor(TOY_Y, dtype=torch.float32)


def split(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Seeded random hold-out: (x_train, y_train, x_val, y_val); the val pair is None without a split."""
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0:
        return x, y, None, None
    n_val = round(len(y) * val_fraction)
    order = torch.randperm(len(y), generator=generator)
    val, train = order[:n_val], order[n_val:]
    for part, rows in (("validation", val), ("training", train)):
        if y[rows].unique().numel() < 2:
            raise UsageError(
                f"too few rows for the validation split: --val-fraction {val_fraction} of {len(y)} rows "
                f"leaves {len(rows)} {part} rows, not both classes; use more rows or another fraction"
            )
    return x[train], y[train], x[val], y[val]


def check_not_constant(x: torch.Tensor, names: tuple[str, ...]) -> None:
    for name, column in zip(names, x.T, strict=True):
        if bool((column == column[0]).all()):
            raise UsageError(
                f"column {name} is constant ({column[0].item():g} in every training row), so it cannot "
                "tell the classes apart: leave it out of --features"
            )


def objective(model: LogisticRegression, x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Mean log-loss on preprocessed ``x``, plus ``l2`` * |W|^2 (the bias is not penalised).

    The log-loss of a logit z is softplus(z) - y z: stable for any z, and elementwise, where torch's
    binary_cross_entropy_with_logits takes a parallel path that costs 15x more on a busy 2-core machine.
    """
    z = model.linear(x).squeeze(-1)
    loss = (F.softplus(z) - y * z).mean()
    return loss + l2 * model.linear.weight.square().sum() if l2 else loss


def gradient_norm(model: LogisticRegression) -> float:
    """The largest component of the gradient just computed: the stopping rule scipy and scikit-learn use."""
    return max(p.grad.abs().max().item() for p in model.parameters())


def train_one_epoch(
    model: LogisticRegression,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    l2: float,
    *,
    judge: bool = True,
) -> tuple[float, float]:
    """One full-batch step (an L-BFGS iteration): the cost before it, as the tutorial prints, and the
    gradient norm there (nan unless ``judge``: the tutorial's fixed schedule does not need it)."""
    model.train()
    before = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=False)
        cost = objective(model, x, y, l2)
        cost.backward()
        if not before:
            before.append((cost.item(), gradient_norm(model) if judge else math.nan))
        return cost

    optimizer.step(closure)
    return before[0]


@torch.no_grad()
def evaluate(model: LogisticRegression, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss and accuracy on raw features, through the model's preprocess and predict_proba, as served."""
    model.eval()
    probabilities = model.predict_proba(model.preprocess(x))
    return {
        "loss": F.binary_cross_entropy(probabilities, y.to(probabilities)).item(),
        "accuracy": (model.labels(probabilities).cpu() == y.long()).float().mean().item(),
    }


def fit(model: LogisticRegression, x: torch.Tensor, y: torch.Tensor, recipe: Recipe) -> dict[str, Any]:
    """Train on raw ``x``: the cost history, iterations, final gradient norm and whether it converged."""
    inputs = model.preprocess(x).to(model.linear.weight.dtype)
    y = y.to(inputs)
    l2 = 0.0 if math.isinf(recipe.inverse_l2) else 1 / (2 * recipe.inverse_l2 * len(y))
    if recipe.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr)
    else:
        optimizer = torch.optim.LBFGS(
            model.parameters(),
            max_iter=1,  # one iteration per call: the loop below logs, caps and judges each
            tolerance_grad=recipe.tol,
            tolerance_change=0.0,
            history_size=20,
            line_search_fn="strong_wolfe",
        )
    steps = recipe.epochs + 1 if recipe.fixed_schedule else recipe.epochs
    word = "Epoch" if recipe.optimizer == "sgd" else "Iteration"
    last = recipe.epochs if recipe.fixed_schedule else recipe.epochs - 1
    history, iterations, restarted = [], 0, False
    for step in progress(range(steps), desc="steps", total=steps):
        weights = [p.detach().clone() for p in model.parameters()] if recipe.optimizer == "lbfgs" else []
        cost, grad = train_one_epoch(model, inputs, y, optimizer, l2, judge=not recipe.fixed_schedule)
        history.append({"epoch": step, "cost": cost})
        if step % LOG_EVERY == 0 or step == last:
            log(f"{word} {step:4d}/{recipe.epochs} Cost: {cost:.6f}")
        if not recipe.fixed_schedule and grad <= recipe.tol:
            break  # already at the optimum: this call did not move the weights
        iterations = step + 1
        if weights and all(map(torch.equal, weights, model.parameters())):
            # The line search found no lower point, and L-BFGS would repeat it: restart it from steepest
            # descent. Twice in a row without a move, it has stalled.
            if restarted:
                break
            optimizer.state.clear()
            restarted = True
        else:
            restarted = False
    model.zero_grad()
    cost = objective(model, inputs, y, l2)
    cost.backward()
    grad = gradient_norm(model)
    model.zero_grad(set_to_none=True)
    return {
        "history": history,
        "iterations": iterations,
        "objective": cost.item(),
        "gradient_norm": grad,
        "converged": grad <= recipe.tol,
    }


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    device = choose_device(args.device)
    generator = seed_everything(args.seed)
    recipe = resolve_recipe(args)
    where = destination(args, DEFAULT_OUT if args.csv is None else None, NO_DESTINATION)
    if args.csv is None:
        if args.val_fraction:
            raise UsageError("--val-fraction needs --csv (the toy set is too small to split)")
        x, y = toy_dataset()
        names = FEATURES
        data: dict[str, Any] = {"source": "toy", "rows": len(y)}
    else:
        table = read_table(
            args.csv, args.features, args.label, positive=args.positive, delimiter=args.delimiter
        )
        warn_ignored(table)
        x, y, names = table.features, table.labels, table.feature_names
        data = {
            "source": "csv",
            "path": str(args.csv),
            "rows": len(y),
            "features": list(names),
            "label": table.label_name,
            "positive": table.positive,
            "ignored_columns": list(table.ignored_columns),
        }
    x_train, y_train, x_val, y_val = split(x, y, args.val_fraction, generator)
    data.update(train_rows=len(y_train), val_rows=0 if y_val is None else len(y_val))
    if args.csv is not None:
        check_not_constant(x_train, names)
    mean, std = (
        (x_train.mean(0).tolist(), x_train.std(0, unbiased=False).tolist())
        if recipe.standardize
        else ((), ())
    )
    try:
        config = LogisticConfig(
            in_features=len(names),
            feature_names=names,
            threshold=args.threshold,
            mean=tuple(mean),
            std=tuple(std),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    # float32 reproduces the tutorial's printed costs to the digit; float64 lets L-BFGS reach a tight --tol.
    dtype = torch.float32 if recipe.fixed_schedule else torch.float64
    model = LogisticRegression(config).to(device, dtype)
    # The tutorial starts from W = 0, b = 0; that is what makes its printed costs reproducible.
    torch.nn.init.zeros_(model.linear.weight)
    torch.nn.init.zeros_(model.linear.bias)
    train_started = time.perf_counter()
    result = fit(model, x_train.to(device), y_train.to(device), recipe)
    train_seconds = time.perf_counter() - train_started
    model.float()  # served in float32: every figure below is the served model's

    metrics: dict[str, Any] = {
        "final_loss": result["history"][-1]["cost"],
        "train_accuracy": evaluate(model, x_train, y_train)["accuracy"],
    }
    if x_val is not None:
        val = evaluate(model, x_val, y_val)
        metrics["val_loss"], metrics["val_accuracy"] = val["loss"], val["accuracy"]
    convergence = {k: result[k] for k in ("iterations", "gradient_norm", "converged")}
    log(_describe_weights(model) + "\n" + _format_metrics(metrics))
    log(_describe_convergence(recipe, convergence))
    if not (convergence["converged"] or recipe.fixed_schedule or args.dry_run or args.allow_unconverged):
        unit = "epochs" if recipe.optimizer == "sgd" else "iterations"
        raise NotConvergedError(
            f"not converged after {result['iterations']} {unit} (gradient {result['gradient_norm']:.3g} > "
            f"--tol {recipe.tol:g}); nothing saved. Raise --epochs, "
            + ("use --optimizer lbfgs, " if recipe.optimizer == "sgd" else "")
            + ("standardise (drop --no-standardize), " if not recipe.standardize else "")
            + "or pass --allow-unconverged to save it anyway"
        )
    if where is None:
        return 0

    weight, bias = model.raw_weights()
    metadata = {
        "metrics": metrics,
        "convergence": convergence,
        "data": data,
        "recipe": {
            **dataclasses.asdict(recipe),
            "inverse_l2": None if math.isinf(recipe.inverse_l2) else recipe.inverse_l2,
            "batch": "full",
            "init": "zeros",
            "loss": "binary_cross_entropy",
            "threshold": args.threshold,
            "seed": args.seed,
        },
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "device": str(device),
        "dry_run": args.dry_run,
    }
    extra = {
        "history": result["history"],
        "weight": model.linear.weight.squeeze(0).tolist(),
        "bias": model.linear.bias.item(),
        "units": "per standard deviation of each feature" if config.standardized else "raw",
        "raw_weight": weight,
        "raw_bias": bias,
    }
    report = None
    if args.report if args.report is not None else not args.dry_run:
        from training.report import write_logistic_report  # matplotlib is slow to import

        report = functools.partial(
            write_logistic_report, model=model, costs=[h["cost"] for h in result["history"]], x=x, y=y
        )
    save_run(where, model, metadata=metadata, extra=extra, report=report)
    return 0


def _describe_weights(model: LogisticRegression) -> str:
    names = ", ".join(model.config.feature_names)
    weight = model.linear.weight.squeeze(0).tolist()
    text = f"W = [{', '.join(f'{w:.4f}' for w in weight)}]  b = {model.linear.bias.item():.4f}"
    if not model.config.standardized:
        return f"{text}  (raw units: per unit of {names})"
    raw_weight, raw_bias = model.raw_weights()
    return (
        f"{text}  (standardised units: per standard deviation of {names})\n"
        f"W = [{', '.join(f'{w:.6g}' for w in raw_weight)}]  b = {raw_bias:.6g}  "
        f"(raw units: per unit of {names})"
    )


def _describe_convergence(recipe: Recipe, convergence: dict[str, Any]) -> str:
    steps = f"{convergence['iterations']} {'epochs' if recipe.optimizer == 'sgd' else 'L-BFGS iterations'}"
    grad = f"gradient norm {convergence['gradient_norm']:.3g}"
    if recipe.fixed_schedule:
        return (
            f"{steps}, {grad}: the tutorial's fixed schedule (the toy set is separable: no optimum to reach)"
        )
    verdict = "converged" if convergence["converged"] else "NOT converged"
    return (
        f"{verdict} after {steps}: {grad} ({'<=' if convergence['converged'] else '>'} --tol {recipe.tol:g})"
    )


def _format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


if __name__ == "__main__":
    raise SystemExit(main())
