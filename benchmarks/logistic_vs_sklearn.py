"""Our logistic trainer against scikit-learn's LogisticRegression on held-out data, three seeded data sets.

    pip install -c constraints.txt -e '.[bench]'   # scikit-learn: for this benchmark only
    python -m benchmarks.logistic_vs_sklearn

Each set is written to a CSV and trained through digit-train-logistic's command line with its defaults (the
training split standardised, L-BFGS to a gradient of 1e-6, C = 1), then the saved checkpoint predicts the
test split through the model's own preprocess, as serving does. scikit-learn runs StandardScaler +
LogisticRegression (lbfgs, C = 1, max_iter 1000) on the same split. Both are scored with sklearn.metrics.
The target: within 1 accuracy point and 1 % log-loss of scikit-learn on each set; exit status 1 otherwise.
The last column is the old recipe (SGD lr 1 on raw values, 1000 epochs: what digit-train-logistic did before).
Our seconds are the whole command (CSV read, fit, checkpoint saved and loaded); scikit-learn's the fit.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout works without installing

import models
from training import logistic

ACCURACY_POINTS = 1.0  # the target: |ours - sklearn| in percentage points
LOG_LOSS_RELATIVE = 0.01  # and |ours / sklearn - 1|


def badly_scaled(g: torch.Generator, n: int) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Income (tens of thousands), age (tens) and a rate (tenths): scales 10^4 apart and more."""
    income = 55_000 + 8_000 * torch.randn(n, generator=g, dtype=torch.float64)
    age = 40 + 10 * torch.randn(n, generator=g, dtype=torch.float64)
    rate = 0.5 + 0.2 * torch.randn(n, generator=g, dtype=torch.float64)
    logit = 1.5 * (income - 55_000) / 8_000 - (age - 40) / 10 + 0.8 * (rate - 0.5) / 0.2
    return ["income", "age", "rate"], torch.stack([income, age, rate], 1), _bernoulli(g, logit)


def near_separable(g: torch.Generator, n: int) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Two features, labels a steep sigmoid of a line: a thin band of overlap around it."""
    x = torch.randn(n, 2, generator=g, dtype=torch.float64) * torch.tensor([3.0, 1.0], dtype=torch.float64)
    logit = 12 * (0.6 * x[:, 0] - 1.4 * x[:, 1] + 0.5)
    return ["x1", "x2"], x, _bernoulli(g, logit)


def noisy(g: torch.Generator, n: int) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Five features, two heavily overlapping Gaussian classes."""
    y = (torch.rand(n, generator=g, dtype=torch.float64) < 0.5).double()
    shift = torch.tensor([0.5, -0.3, 0.2, 0.0, 0.1], dtype=torch.float64)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64) * 1.5 + (2 * y[:, None] - 1) * shift
    return [f"f{i}" for i in range(1, 6)], x, y


def _bernoulli(g: torch.Generator, logit: torch.Tensor) -> torch.Tensor:
    return (torch.rand(logit.shape, generator=g, dtype=torch.float64) < torch.sigmoid(logit)).double()


DATASETS: dict[str, Callable] = {
    "badly scaled": badly_scaled,
    "near-separable": near_separable,
    "noisy": noisy,
}


def write_csv(path: Path, names: list[str], x: torch.Tensor, y: torch.Tensor) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*names, "y"])
        writer.writerows(
            [*map(repr, row), int(label)] for row, label in zip(x.tolist(), y.tolist(), strict=True)
        )


def ours(folder: Path, names: list[str], x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, *extra: str):
    """Train through the command line; (P(y=1) on x_test, seconds, checkpoint metadata)."""
    data, out = folder / "train.csv", folder / f"ours{len(extra)}.pt"
    write_csv(data, names, x, y)
    argv = ["--csv", str(data), "--features", ",".join(names), "--out", str(out), "--no-report", *extra]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = logistic.main(argv)
    seconds = time.perf_counter() - started
    assert status == 0, f"digit-train-logistic exited {status}"
    checkpoint = models.load(out)
    with torch.no_grad():
        model = checkpoint.model
        probabilities = model.predict_proba(model.preprocess(x_test)).double()
    return probabilities, seconds, checkpoint.metadata


def scikit_learn(x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x.numpy(), y.numpy())
    seconds = time.perf_counter() - started
    return torch.from_numpy(pipeline.predict_proba(x_test.numpy())[:, 1]), seconds


def scores(y: torch.Tensor, probabilities: torch.Tensor) -> tuple[float, float]:
    from sklearn.metrics import log_loss

    accuracy = ((probabilities >= 0.5).double() == y).double().mean().item() * 100
    return accuracy, log_loss(y.numpy(), probabilities.clamp(1e-15, 1 - 1e-15).numpy(), labels=[0, 1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=4000, help="rows per set, half for training (default: 4000)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data sets (default: 0)")
    args = p.parse_args(argv)

    print(
        "| Data set | Ours: accuracy | scikit-learn | Δ points | Ours: log-loss | scikit-learn | Δ % "
        "| Our L-BFGS iterations, gradient | Seconds ours / sklearn | Old recipe: accuracy, log-loss |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    passed = True
    with tempfile.TemporaryDirectory() as tmp:  # torch's first optimiser step imports much: not timed
        names, x, y = noisy(torch.Generator().manual_seed(0), 100)
        ours(Path(tmp), names, x, y, x)
    for index, (title, make) in enumerate(DATASETS.items()):
        g = torch.Generator().manual_seed(args.seed * 100 + index)
        names, x, y = make(g, args.rows)
        half = args.rows // 2
        train, test = slice(0, half), slice(half, None)
        with tempfile.TemporaryDirectory() as tmp:
            p_ours, s_ours, meta = ours(Path(tmp), names, x[train], y[train], x[test])
            old_recipe = ("--optimizer", "sgd", "--no-standardize", "--C", "inf", "--allow-unconverged")
            p_old, _, _ = ours(Path(tmp), names, x[train], y[train], x[test], *old_recipe)
        p_sk, s_sk = scikit_learn(x[train], y[train], x[test])
        (acc, loss), (acc_sk, loss_sk), (acc_old, loss_old) = (
            scores(y[test], p) for p in (p_ours, p_sk, p_old)
        )
        d_acc, d_loss = acc - acc_sk, (loss / loss_sk - 1) * 100
        ok = abs(d_acc) <= ACCURACY_POINTS and abs(d_loss) <= LOG_LOSS_RELATIVE * 100
        passed &= ok
        conv = meta["convergence"]
        old = f"{acc_old:.2f} %, {loss_old:.3f}" if math.isfinite(loss_old) else f"{acc_old:.2f} %, inf"
        print(
            f"| {title} ({len(names)} features) | {acc:.2f} % | {acc_sk:.2f} % | {d_acc:+.2f} | {loss:.4f} | "
            f"{loss_sk:.4f} | {d_loss:+.2f} % | {conv['iterations']}, {conv['gradient_norm']:.1e} | "
            f"{s_ours:.2f} / {s_sk:.2f} | {old} |" + ("" if ok else " **MISSED**"),
            flush=True,
        )
    print(
        f"\ntarget: within {ACCURACY_POINTS:g} point and {LOG_LOSS_RELATIVE:.0%} log-loss: "
        + ("met" if passed else "MISSED")
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
