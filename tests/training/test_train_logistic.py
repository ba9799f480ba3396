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


def test_csv_with_validation_split_trains_and_reports_val_accuracy(write_csv, tmp_path, capsys):
    rows = "\n".join(f"{x},{x % 3},{int(x > 10)}" for x in range(20))
    path = write_csv(f"x1,x2,y\n{rows}\n")
    out = tmp_path / "csv.pt"
    argv = ["--csv", str(path), "--val-fraction", "0.25", "--epochs", "200", "--lr", "0.1"]
    assert logistic.main([*argv, "--out", str(out), "--model-version", "csv-1"]) == 0
    checkpoint = models.load(out)
    assert checkpoint.version == "csv-1"
    assert checkpoint.metadata["data"] == {
        "source": "csv",
        "path": str(path),
        "rows": 20,
        "train_rows": 15,
        "val_rows": 5,
    }
    assert set(checkpoint.metadata["metrics"]) == {"final_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert 0.0 <= checkpoint.metadata["metrics"]["val_accuracy"] <= 1.0
    assert checkpoint.metadata["metrics"]["val_loss"] > 0.0


def test_dry_run_without_out_saves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert logistic.main(["--dry-run"]) == 0
    assert "dry run: nothing saved (pass --out to save)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "{path} is empty (expected a header x1,x2,y and data rows)"),
        ("x1,x2,y\n", "{path} has a header but no data rows"),
        ("x1,y\n1,0\n", "{path}: missing column x2 (expected header x1,x2,y)"),
        ("x1,x2,y\n1,2,0\n1,abc,1\n", "{path} line 3: x2 value 'abc' is not a number"),
        ("x1,x2,y\nnan,2,0\n", "{path} line 2: x1 value 'nan' is not a finite number"),
        ("x1,x2,y\n1,-inf,0\n", "{path} line 2: x2 value '-inf' is not a finite number"),
        ("x1,x2,y\n1,2,2\n", "{path} line 2: y must be 0 or 1, got '2'"),
        ("x1,x2,y\n1,2\n", "{path} line 2: y is missing"),
    ],
    ids=["empty", "header-only", "missing-column", "non-numeric", "nan", "inf", "bad-label", "short-row"],
)
def test_csv_malformed_exits_with_one_line_message(write_csv, capsys, text, problem):
    path = write_csv(text)
    stderr = run_failing(["--csv", str(path)], capsys)
    assert stderr == f"digit-train-logistic: error: {problem.format(path=path)}\n"


def test_csv_file_not_found_exits_with_one_line_message(tmp_path, capsys):
    path = tmp_path / "absent.csv"
    stderr = run_failing(["--csv", str(path)], capsys)
    assert stderr == f"digit-train-logistic: error: {path}: file not found\n"


def test_csv_val_fraction_out_of_range_exits_with_message(write_csv, capsys):
    path = write_csv("x1,x2,y\n1,2,0\n2,3,1\n")
    stderr = run_failing(["--csv", str(path), "--val-fraction", "1.5"], capsys)
    assert stderr == "digit-train-logistic: error: --val-fraction must be in [0, 1), got 1.5\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a machine without CUDA")
def test_device_cuda_without_gpu_exits_with_message(capsys):
    stderr = run_failing(["--device", "cuda", "--dry-run"], capsys)
    assert (
        stderr
        == "digit-train-logistic: error: --device: device 'cuda' was requested but no CUDA GPU is available\n"
    )
