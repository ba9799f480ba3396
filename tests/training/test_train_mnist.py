"""training.mnist on tiny synthetic IDX files through the real torchvision loader path."""

import json

import pytest
import torch

import models
from training import mnist
from training.common import choose_device


def test_mnist_dry_run_writes_a_loadable_checkpoint_and_metrics(tiny_mnist_root, tmp_path):
    out = tmp_path / "out" / "mnist.pt"
    assert mnist.main(["--data-root", str(tiny_mnist_root), "--out", str(out), "--dry-run"]) == 0
    checkpoint = models.load(out, architecture="softmax_regression")
    assert checkpoint.metadata["data"]["train_size"] == 64
    assert checkpoint.metadata["data"]["test_size"] == 20
    metrics = json.loads((tmp_path / "out" / "mnist.metrics.json").read_text())
    assert set(metrics) == {
        "metrics",
        "data",
        "recipe",
        "device",
        "cpu_threads",
        "dry_run",
        "epoch_losses",
        "confusion_matrix",
    }
    assert set(metrics["metrics"]) == {
        "test_accuracy",
        "test_loss",
        "final_loss",
        "train_seconds",
        "total_seconds",
    }
    assert len(metrics["epoch_losses"]) == 1
    assert sum(map(sum, metrics["confusion_matrix"])) == 20
    assert not (tmp_path / "out" / "mnist.report.png").exists()


def test_mnist_report_writes_png_next_to_checkpoint(tiny_mnist_root, tmp_path):
    out = tmp_path / "mnist.pt"
    argv = ["--data-root", str(tiny_mnist_root), "--out", str(out), "--epochs", "2", "--batch-size", "16"]
    assert mnist.main([*argv, "--report"]) == 0
    assert (tmp_path / "mnist.report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mnist_tutorial_recipe_records_plain_pixel_scaling(tiny_mnist_root, tmp_path):
    out = tmp_path / "tutorial.pt"
    argv = ["--recipe", "tutorial", "--data-root", str(tiny_mnist_root), "--out", str(out), "--dry-run"]
    assert mnist.main(argv) == 0
    checkpoint = models.load(out)
    assert (checkpoint.config.mean, checkpoint.config.std) == (0.0, 1.0)
    assert checkpoint.metadata["recipe"]["batch_size"] == 128


def test_mnist_same_seed_gives_identical_weights(tiny_mnist_root, tmp_path):
    weights = []
    for name in ("a.pt", "b.pt"):
        argv = ["--data-root", str(tiny_mnist_root), "--out", str(tmp_path / name), "--no-report"]
        assert mnist.main([*argv, "--epochs", "2", "--batch-size", "8", "--seed", "3"]) == 0
        weights.append(models.load(tmp_path / name).model.linear.weight)
    assert torch.equal(*weights)


def test_mnist_missing_data_names_the_folder_for_the_idx_files(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        mnist.main(["--data-root", str(tmp_path / "nowhere")])
    assert exc.value.code == 2
    raw = tmp_path.resolve() / "nowhere" / "MNIST" / "raw"
    assert capsys.readouterr().err == (
        f"digit-train-mnist: error: MNIST not found in {raw}. Put the four IDX files "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        f"t10k-labels-idx1-ubyte) in {raw}, "
        "or pass --download to fetch them.\n"
    )


def test_mnist_invalid_epochs_exit_with_message(tiny_mnist_root, capsys):
    with pytest.raises(SystemExit) as exc:
        mnist.main(["--data-root", str(tiny_mnist_root), "--epochs", "0"])
    assert exc.value.code == 2
    assert (
        capsys.readouterr().err
        == "digit-train-mnist: error: --epochs and --batch-size must be >= 1 and --lr > 0\n"
    )


def test_choose_device_auto_without_gpu_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("auto") == torch.device("cpu")


def test_mnist_repository_writes_the_next_version_with_companions(tiny_mnist_root, tmp_path):
    repository = tmp_path / "repo"
    (repository / "mnist").mkdir(parents=True)
    (repository / "mnist" / "1.pt").write_bytes(b"an existing version, never touched")
    argv = ["--data-root", str(tiny_mnist_root), "--repository", str(repository), "--name", "mnist"]
    assert mnist.main([*argv, "--epochs", "1", "--batch-size", "16"]) == 0
    assert sorted(p.name for p in (repository / "mnist").iterdir()) == [
        ".lock",
        "1.pt",
        "2.metrics.json",
        "2.pt",
        "2.report.png",
    ]
    assert (repository / "mnist" / "1.pt").read_bytes() == b"an existing version, never touched"
    assert models.load(repository / "mnist" / "2.pt").version == "2"


def test_mnist_repository_without_name_exits_with_message(tiny_mnist_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        mnist.main(["--data-root", str(tiny_mnist_root), "--repository", str(tmp_path)])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "digit-train-mnist: error: --repository and --name go together: --repository DIR --name NAME\n"
    )
