"""models.save / models.load: round trip, what a file records, and every way a file can be unusable."""

import os
import threading
from datetime import datetime

import pytest
import torch
from torch import nn

import models
from models import (
    ArchitectureMismatchError,
    CheckpointCorruptError,
    CheckpointNotFoundError,
    CheckpointTooLargeError,
    LogisticConfig,
    LogisticRegression,
    MnistConfig,
    ShapeMismatchError,
    SoftmaxRegression,
    checkpoint,
)


@pytest.fixture
def logistic_path(tmp_path):
    torch.manual_seed(0)
    model = LogisticRegression(LogisticConfig(threshold=0.7))
    return models.save(model, tmp_path / "logistic.pt", version="1.2.3", metadata={"metrics": {"acc": 1.0}})


@pytest.fixture
def softmax_path(tmp_path):
    torch.manual_seed(0)
    return models.save(SoftmaxRegression(MnistConfig(mean=0.0, std=1.0)), tmp_path / "mnist.pt", version="7")


@pytest.fixture
def save_edited(monkeypatch, tmp_path):
    """models.save, with the payload edited on its way to torch.save: files no healthy save writes."""

    def save(model, edit, name="edited.pt"):
        real_save = torch.save

        def edited_save(payload, f):
            edit(payload)
            real_save(payload, f)

        with monkeypatch.context() as patch:
            patch.setattr(torch, "save", edited_save)
            return models.save(model, tmp_path / name, version="1")

    return save


def test_load_logistic_round_trip_gives_identical_outputs(logistic_path):
    torch.manual_seed(0)
    original = LogisticRegression(LogisticConfig(threshold=0.7)).eval()
    x = torch.randn(8, 2)
    loaded = models.load(logistic_path).model
    assert torch.equal(loaded(x), original(x))


def test_load_softmax_round_trip_gives_identical_outputs(softmax_path):
    torch.manual_seed(0)
    original = SoftmaxRegression(MnistConfig(mean=0.0, std=1.0)).eval()
    pixels = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    loaded = models.load(softmax_path, architecture="softmax_regression").model
    assert torch.equal(loaded.predict_proba(pixels), original.predict_proba(pixels))


def test_load_returns_architecture_version_config_and_metadata(logistic_path):
    checkpoint = models.load(logistic_path)
    assert checkpoint.architecture == "logistic_regression"
    assert checkpoint.version == "1.2.3"
    assert checkpoint.config == LogisticConfig(threshold=0.7)
    assert checkpoint.metadata["metrics"] == {"acc": 1.0}
    assert checkpoint.metadata["torch_version"] == str(torch.__version__)
    assert datetime.fromisoformat(checkpoint.metadata["created_at"]).tzinfo is not None


def test_save_writes_format_version_and_every_section(monkeypatch, tmp_path):
    written = {}
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda payload, f: (written.update(payload), real_save(payload, f)))
    models.save(SoftmaxRegression(), tmp_path / "m.pt", version="3")
    assert written["format_version"] == models.FORMAT_VERSION == 1
    assert written["architecture"] == "softmax_regression"
    assert written["version"] == "3"
    assert written["config"]["mean"] == 0.1307
    assert set(written["state_dict"]) == {"linear.weight", "linear.bias"}
    assert set(written["metadata"]) >= {"created_at", "torch_version"}


def test_load_missing_file_raises_not_found(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(CheckpointNotFoundError) as exc:
        models.load(path)
    assert str(exc.value) == f"checkpoint {path}: file not found"


def test_load_directory_raises_not_found(tmp_path):
    with pytest.raises(CheckpointNotFoundError) as exc:
        models.load(tmp_path)
    assert str(exc.value) == f"checkpoint {tmp_path}: is a directory, not a checkpoint file"


def test_load_corrupt_bytes_raises_corrupt(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(path)
    assert str(exc.value).startswith(f"checkpoint {path}: not a readable checkpoint (corrupt or truncated): ")


def test_load_truncated_file_raises_corrupt(logistic_path):
    logistic_path.write_bytes(logistic_path.read_bytes()[:200])
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(logistic_path)
    assert str(exc.value).startswith(
        f"checkpoint {logistic_path}: not a readable checkpoint (corrupt or truncated): "
    )


def test_load_other_architecture_than_asked_raises_mismatch(softmax_path):
    with pytest.raises(ArchitectureMismatchError) as exc:
        models.load(softmax_path, architecture="logistic_regression")
    assert str(exc.value) == (
        f"checkpoint {softmax_path}: holds a softmax_regression model, expected logistic_regression"
    )


def test_load_unknown_architecture_raises_mismatch(save_edited):
    path = save_edited(LogisticRegression(), lambda payload: payload.update(architecture="mystery"))
    with pytest.raises(ArchitectureMismatchError) as exc:
        models.load(path)
    assert str(exc.value) == (
        f"checkpoint {path}: unknown architecture 'mystery' (known: logistic_regression, softmax_regression)"
    )


def test_load_weights_of_wrong_shape_raise_shape_mismatch(tmp_path):
    model = LogisticRegression()
    model.linear = nn.Linear(3, 1)  # config still says 2 features
    path = models.save(model, tmp_path / "wide.pt", version="1")
    with pytest.raises(ShapeMismatchError) as exc:
        models.load(path)
    message = str(exc.value)
    assert message.startswith(f"checkpoint {path}: weights do not fit logistic_regression with config ")
    assert "size mismatch for linear.weight" in message


def test_load_state_dict_missing_a_tensor_raises_shape_mismatch(save_edited):
    path = save_edited(LogisticRegression(), lambda payload: payload["state_dict"].pop("linear.bias"))
    with pytest.raises(ShapeMismatchError) as exc:
        models.load(path)
    assert str(exc.value).startswith(f"checkpoint {path}: weights do not fit logistic_regression")
    assert 'Missing key(s) in state_dict: "linear.bias"' in str(exc.value)


def test_load_payload_missing_keys_raises_corrupt(save_edited):
    path = save_edited(
        LogisticRegression(), lambda payload: [payload.pop(k) for k in ("version", "metadata")]
    )
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(path)
    assert str(exc.value) == f"checkpoint {path}: not a checkpoint of this project: missing version, metadata"


def test_load_unsupported_format_version_raises_corrupt(save_edited):
    path = save_edited(SoftmaxRegression(), lambda payload: payload.update(format_version=99))
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(path)
    assert str(exc.value) == f"checkpoint {path}: format version 99 is not supported (expected 1)"


def test_save_failure_keeps_previous_file_and_leaves_no_temp_file(monkeypatch, logistic_path):
    before = logistic_path.read_bytes()

    def failing_save(payload, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        models.save(LogisticRegression(), logistic_path, version="2")
    assert logistic_path.read_bytes() == before
    assert sorted(p.name for p in logistic_path.parent.iterdir()) == ["logistic.pt"]


def test_load_logistic_keeps_mean_and_std_and_standardizes(tmp_path):
    config = LogisticConfig(feature_names=("income", "age"), mean=(50_000.0, 30.0), std=(10_000.0, 5.0))
    path = models.save(LogisticRegression(config), tmp_path / "scaled.pt", version="1")
    loaded = models.load(path).model
    assert loaded.config == config
    assert loaded.preprocess(torch.tensor([[60_000.0, 20.0]])).tolist() == [[1.0, -2.0]]


def test_load_logistic_checkpoint_from_before_standardization(save_edited):
    def old_config(payload):
        del payload["config"]["mean"], payload["config"]["std"]

    path = save_edited(LogisticRegression(), old_config)
    loaded = models.load(path).model
    assert (loaded.config.mean, loaded.config.std) == ((), ())
    assert loaded.preprocess(torch.tensor([[4.0, 3.0]])).tolist() == [[4.0, 3.0]]


def test_load_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "fifo.pt"
    os.mkfifo(path)  # no writer: an ordinary open would wait for one forever
    with pytest.raises(CheckpointNotFoundError) as exc:
        models.load(path, timeout=5)
    assert str(exc.value) == f"checkpoint {path}: is a FIFO, not a regular file"


def test_load_file_over_the_size_cap_is_refused(logistic_path):
    size = logistic_path.stat().st_size
    with pytest.raises(CheckpointTooLargeError) as exc:
        models.load(logistic_path, max_bytes=size - 1)
    assert str(exc.value) == f"checkpoint {logistic_path}: is {size} bytes, over the limit of {size - 1}"


def test_load_stuck_read_times_out_and_the_next_load_works(monkeypatch, logistic_path):
    release = threading.Event()
    real_read = checkpoint._read_regular_file

    def stuck_once(path, max_bytes):
        monkeypatch.setattr(checkpoint, "_read_regular_file", real_read)
        release.wait(10)  # a read hung on a dead mount
        return real_read(path, max_bytes)

    monkeypatch.setattr(checkpoint, "_read_regular_file", stuck_once)
    with pytest.raises(CheckpointNotFoundError) as exc:
        models.load(logistic_path, timeout=0.2)
    assert str(exc.value) == f"checkpoint {logistic_path}: could not be read within 0.2 s"
    assert models.load(logistic_path, timeout=5).version == "1.2.3"
    release.set()


def test_load_nan_weights_is_refused(save_edited):
    path = save_edited(LogisticRegression(), lambda p: p["state_dict"]["linear.bias"].fill_(float("nan")))
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(path)
    assert str(exc.value) == f"checkpoint {path}: weight 'linear.bias' holds NaN or infinite values"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("image_size", 28.0, "image_size must be an integer, got 28.0"),
        ("image_size", True, "image_size must be an integer, got True"),
        ("num_classes", 11, "num_classes must be between 2 and 10, got 11"),
        ("mean", "0.1", "mean must be a finite number, got '0.1'"),
        ("std", float("inf"), "std must be a finite number, got inf"),
        ("colour", "red", "unknown field(s) colour"),
    ],
)
def test_load_config_of_wrong_type_or_range_is_refused(save_edited, field, value, problem):
    path = save_edited(SoftmaxRegression(), lambda p: p["config"].update({field: value}))
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(path)
    assert str(exc.value) == f"checkpoint {path}: invalid softmax_regression config: {problem}"


@pytest.mark.parametrize("metadata", [["accuracy", 1.0], {"metrics": [0.9]}])
def test_load_metadata_of_wrong_shape_is_refused(save_edited, metadata):
    path = save_edited(LogisticRegression(), lambda p: p.update(metadata=metadata))
    with pytest.raises(CheckpointCorruptError) as exc:
        models.load(path)
    assert str(exc.value) == f"checkpoint {path}: metadata (and its metrics) must be dicts"
