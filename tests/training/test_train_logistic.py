"""training.logistic: the tutorial's numbers on the toy set, CSV data, and one-line CSV errors."""

import contextlib
import io
import json

import pytest
import torch

import models
from training import logistic

TOY_X = torch.tensor(logistic.TOY_X, dtype=torch.float32)
TOY_Y = torch.tensor(logistic.TOY_Y)


def run_failing(argv, capsys):
    """main(argv) must exit non-zero; returns stderr."""
    with pytest.raises(SystemExit) as exc:
        logistic.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """One default run shared by the toy-set tests: (checkpoint path, printed output)."""
    out = tmp_path_factory.mktemp("toy") / "logistic.pt"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert logistic.main(["--out", str(out)]) == 0
    return out, printed.getvalue()


def test_toy_set_prints_cost_every_100_epochs_from_0_to_1000(toy_run):
    _, stdout = toy_run
    lines = [line for line in stdout.splitlines() if line.startswith("Epoch")]
    assert [line.split("/")[0] for line in lines] == [f"Epoch {e:4d}" for e in range(0, 1001, 100)]
    assert lines[0] == "Epoch    0/1000 Cost: 0.693147"
    assert lines[-1] == "Epoch 1000/1000 Cost: 0.019852"


def test_toy_set_reproduces_tutorial_weights(toy_run):
    model = models.load(toy_run[0], architecture="logistic_regression").model
    assert model.linear.weight.squeeze(0).tolist() == pytest.approx([3.2530, 1.5179], abs=1e-3)
    assert model.linear.bias.item() == pytest.approx(-14.4819, abs=1e-3)


def test_toy_set_model_classifies_all_points(toy_run):
    model = models.load(toy_run[0]).model
    assert torch.equal(model.labels(model(TOY_X)), TOY_Y)


def test_toy_set_writes_metrics_next_to_checkpoint(toy_run):
    out, _ = toy_run
    metrics = json.loads(out.with_name("logistic.metrics.json").read_text())
    assert metrics["metrics"] == {"final_loss": pytest.approx(0.019852, abs=1e-6), "train_accuracy": 1.0}
    assert metrics["data"] == {"source": "toy", "rows": 6, "train_rows": 6, "val_rows": 0}
    assert metrics["recipe"]["lr"] == 1.0
    assert metrics["recipe"]["epochs"] == 1000
    assert models.load(out).metadata["metrics"] == metrics["metrics"]


def test_toy_set_reports_raw_units_and_the_fixed_schedule(toy_run):
    _, stdout = toy_run
    assert "W = [3.2530, 1.5179]  b = -14.4819  (raw units: per unit of x1, x2)\n" in stdout
    assert "1001 epochs, gradient norm " in stdout
    assert "the tutorial's fixed schedule (the toy set is separable: no optimum to reach)" in stdout


def test_toy_set_writes_a_png_report(toy_run):
    out, _ = toy_run
    assert out.with_name("logistic.report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def income_csv(write_csv, rows=200, extra=""):
    """A badly scaled set: income 40,000-70,000 and age, label 1 for high income / low age, some noise."""
    generator = torch.Generator().manual_seed(1)
    income = 40_000 + 30_000 * torch.rand(rows, generator=generator)
    age = 20 + 40 * torch.rand(rows, generator=generator)
    logit = (income - 55_000) / 3_000 - (age - 40) / 8 + torch.randn(rows, generator=generator)
    lines = [f"income,age,approved{',' + extra if extra else ''}"]
    lines += [
        f"{i:.0f},{a:.1f},{'yes' if z > 0 else 'no'}{',x' if extra else ''}"
        for i, a, z in zip(income.tolist(), age.tolist(), logit.tolist(), strict=True)
    ]
    return write_csv("\n".join(lines) + "\n")


INCOME = ["--features", "income,age", "--label", "approved", "--positive", "yes"]


def test_csv_badly_scaled_standardizes_converges_and_classifies(write_csv, tmp_path, capsys):
    path = income_csv(write_csv)
    out = tmp_path / "income.pt"
    assert logistic.main(["--csv", str(path), *INCOME, "--val-fraction", "0.25", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    checkpoint = models.load(out)
    config, metadata = checkpoint.config, checkpoint.metadata
    assert config.feature_names == ("income", "age")
    assert 50_000 < config.mean[0] < 60_000
    assert 7_000 < config.std[0] < 10_000
    assert metadata["convergence"]["converged"] is True
    assert metadata["convergence"]["gradient_norm"] <= 1e-6
    assert metadata["metrics"]["train_accuracy"] > 0.85
    assert metadata["metrics"]["val_accuracy"] > 0.85
    assert metadata["data"]["train_rows"] == 150
    assert "(standardised units: per standard deviation of income, age)" in stdout
    assert "(raw units: per unit of income, age)" in stdout
    assert "converged after " in stdout


def test_csv_standardization_is_the_training_splits_mean_and_std(write_csv, tmp_path):
    x = torch.tensor([[1, 10], [2, 30], [3, 20], [4, 40], [5, 60], [6, 50], [7, 80], [8, 70]]).double()
    y = torch.tensor([0, 0, 1, 1, 1, 0, 1, 0]).double()
    rows = "\n".join(f"{a:g},{b:g},{c:g}" for (a, b), c in zip(x.tolist(), y.tolist(), strict=True))
    path = write_csv(f"x1,x2,y\n{rows}\n")
    out = tmp_path / "split.pt"
    assert (
        logistic.main(["--csv", str(path), "--val-fraction", "0.25", "--out", str(out), "--no-report"]) == 0
    )
    x_train = logistic.split(x, y, 0.25, torch.Generator().manual_seed(0))[0]
    config = models.load(out).config
    assert config.mean == pytest.approx(x_train.mean(0).tolist())
    assert config.std == pytest.approx(x_train.std(0, unbiased=False).tolist())


def test_csv_malformed_exits_with_one_line_message(write_csv, capsys):
    path = write_csv("x1,x2,y\n1,2,0\n1,abc,1\n")
    stderr = run_failing(["--csv", str(path), "--out", "x.pt"], capsys)
    assert stderr == f"digit-train-logistic: error: {path} line 3: x2 value 'abc' is not a number\n"


def test_csv_model_offline_matches_its_raw_unit_weights(write_csv, tmp_path):
    path = income_csv(write_csv)
    out = tmp_path / "income.pt"
    assert logistic.main(["--csv", str(path), *INCOME, "--out", str(out), "--no-report"]) == 0
    model = models.load(out).model
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    x = torch.tensor([[52_000.0, 31.0], [41_000.0, 58.0]])
    by_hand = torch.sigmoid(x.double() @ torch.tensor(metrics["raw_weight"]).double() + metrics["raw_bias"])
    assert model.predict_proba(model.preprocess(x)).tolist() == pytest.approx(by_hand.tolist(), abs=1e-6)


def test_csv_unselected_column_warns_in_one_line_and_trains(write_csv, tmp_path, capsys):
    path = income_csv(write_csv, extra="note")
    assert logistic.main(["--csv", str(path), *INCOME, "--out", str(tmp_path / "m.pt"), "--no-report"]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning")]
    assert warnings == ["warning: ignoring column note (not in --features or --label)"]
    assert models.load(tmp_path / "m.pt").metadata["data"]["ignored_columns"] == ["note"]


def test_csv_constant_column_exits_with_message(write_csv, tmp_path, capsys):
    path = write_csv("x1,x2,y\n1,5,0\n2,5,0\n3,5,1\n4,5,1\n")
    stderr = run_failing(["--csv", str(path), "--out", str(tmp_path / "m.pt")], capsys)
    assert stderr == (
        "digit-train-logistic: error: column x2 is constant (5 in every training row), so it cannot tell the "
        "classes apart: leave it out of --features\n"
    )


def test_csv_too_few_rows_for_the_validation_split_exits_with_message(write_csv, tmp_path, capsys):
    path = write_csv("x1,x2,y\n1,5,0\n2,6,0\n3,5,1\n4,7,1\n")
    stderr = run_failing(
        ["--csv", str(path), "--val-fraction", "0.1", "--out", str(tmp_path / "m.pt")], capsys
    )
    assert stderr == (
        "digit-train-logistic: error: too few rows for the validation split: --val-fraction 0.1 of 4 rows "
        "leaves 0 validation rows, not both classes; use more rows or another fraction\n"
    )


def test_csv_one_class_exits_with_message(write_csv, tmp_path, capsys):
    path = write_csv("x1,x2,y\n1,5,1\n2,6,1\n")
    stderr = run_failing(["--csv", str(path), "--out", str(tmp_path / "m.pt")], capsys)
    assert stderr == (
        f"digit-train-logistic: error: {path}: every row has y = '1'; a classifier needs rows of both "
        "classes\n"
    )


def test_csv_unconverged_exits_1_and_saves_nothing(write_csv, tmp_path, capsys):
    path = income_csv(write_csv)
    with pytest.raises(SystemExit) as exc:
        logistic.main(["--csv", str(path), *INCOME, "--epochs", "2", "--out", str(tmp_path / "m.pt")])
    assert exc.value.code == 1
    stderr = capsys.readouterr().err
    assert stderr.startswith("digit-train-logistic: error: not converged after 2 iterations (gradient ")
    assert stderr.endswith(
        "> --tol 1e-06); nothing saved. Raise --epochs, or pass --allow-unconverged to save it anyway\n"
    )
    assert list(tmp_path.glob("m.*")) == []


def test_csv_allow_unconverged_saves_and_records_it(write_csv, tmp_path):
    path = income_csv(write_csv)
    argv = ["--csv", str(path), *INCOME, "--epochs", "2", "--allow-unconverged", "--no-report"]
    assert logistic.main([*argv, "--out", str(tmp_path / "m.pt")]) == 0
    convergence = models.load(tmp_path / "m.pt").metadata["convergence"]
    assert convergence["converged"] is False
    assert convergence["iterations"] == 2


def test_csv_sgd_on_raw_income_does_not_pass_as_converged(write_csv, tmp_path, capsys):
    """The reported failure: SGD at lr 1 on unscaled incomes. It now stops with a message."""
    path = income_csv(write_csv)
    argv = ["--csv", str(path), *INCOME, "--optimizer", "sgd", "--no-standardize", "--epochs", "50"]
    argv += ["--out", str(tmp_path / "m.pt")]
    with pytest.raises(SystemExit) as exc:
        logistic.main(argv)
    assert exc.value.code == 1
    assert "use --optimizer lbfgs, standardise (drop --no-standardize), " in capsys.readouterr().err


def test_csv_without_destination_refuses_and_says_what_to_pass(write_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_csv("x1,x2,y\n1,2,0\n2,3,1\n")
    stderr = run_failing(["--csv", str(path)], capsys)
    assert stderr == (
        "digit-train-logistic: error: --csv needs a destination: --repository DIR --name NAME saves the next "
        "version of NAME, --out FILE one file (the committed default checkpoints/logistic.pt is never "
        "overwritten by a CSV run)\n"
    )
    assert list(tmp_path.iterdir()) == [path]


def test_csv_repository_writes_the_next_version_with_companions(write_csv, tmp_path, capsys):
    path = income_csv(write_csv)
    repository = tmp_path / "repo"
    argv = ["--csv", str(path), *INCOME, "--repository", str(repository), "--name", "loans"]
    assert logistic.main(argv) == 0
    assert logistic.main(argv) == 0
    names = sorted(p.name for p in (repository / "loans").iterdir())
    assert names == [
        ".lock",
        "1.metrics.json",
        "1.pt",
        "1.report.png",
        "2.metrics.json",
        "2.pt",
        "2.report.png",
    ]
    assert models.load(repository / "loans" / "2.pt").version == "2"


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--repository", "r"], "--repository and --name go together: --repository DIR --name NAME"),
        (["--name", "n"], "--repository and --name go together: --repository DIR --name NAME"),
        (
            ["--repository", "r", "--name", "n", "--out", "m.pt"],
            "--repository numbers the versions itself: drop --out and --model-version",
        ),
        (
            ["--repository", "r", "--name", "no/way"],
            "--name 'no/way' is not a model name (letters, digits, '-' and '_', at most 64)",
        ),
    ],
    ids=["no-name", "no-repository", "with-out", "bad-name"],
)
def test_destination_problems_exit_with_message(capsys, argv, problem):
    assert run_failing(argv, capsys) == f"digit-train-logistic: error: {problem}\n"


def test_csv_three_features_train_and_report(write_csv, tmp_path):
    rows = "\n".join(f"{x},{x % 3},{x % 5},{int(x > 10)}" for x in range(20))
    path = write_csv(f"a,b,c,label\n{rows}\n")
    out = tmp_path / "three.pt"
    argv = ["--csv", str(path), "--features", "a,b,c", "--label", "label", "--C", "1", "--out", str(out)]
    assert logistic.main(argv) == 0
    assert models.load(out).config.in_features == 3
    assert out.with_suffix(".report.png").read_bytes()[:4] == b"\x89PNG"


def test_dry_run_without_out_saves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert logistic.main(["--dry-run"]) == 0
    assert "dry run: nothing saved (pass --out FILE or --repository DIR --name NAME to save)" in (
        capsys.readouterr().out
    )
    assert list(tmp_path.iterdir()) == []


def test_csv_val_fraction_out_of_range_exits_with_message(write_csv, capsys):
    path = write_csv("x1,x2,y\n1,2,0\n2,3,1\n")
    stderr = run_failing(["--csv", str(path), "--val-fraction", "1.5", "--out", "x.pt"], capsys)
    assert stderr == "digit-train-logistic: error: --val-fraction must be in [0, 1), got 1.5\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a machine without CUDA")
def test_device_cuda_without_gpu_exits_with_message(capsys):
    stderr = run_failing(["--device", "cuda", "--dry-run"], capsys)
    assert (
        stderr
        == "digit-train-logistic: error: --device: device 'cuda' was requested but no CUDA GPU is available\n"
    )
