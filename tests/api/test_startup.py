import gc
import subprocess
import sys

import pytest
import torch
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.imaging import SUPPORTED_FORMATS
from app.main import create_app
from app.settings import Settings
from models import DeviceUnavailableError


def test_startup_cuda_without_gpu_fails(settings, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    app = create_app(settings.model_copy(update={"device": "cuda"}))
    with (
        pytest.raises(
            DeviceUnavailableError, match="device 'cuda' was requested but no CUDA GPU is available"
        ),
        TestClient(app),
    ):
        pass


def test_startup_auto_without_gpu_serves_on_cpu(client_with, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert client_with(device="auto").get("/models/mnist").json()["device"] == "cpu"


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SERVE_MODEL_REPOSITORY", str(tmp_path / "repository"))
    monkeypatch.setenv("SERVE_DEVICE", "cpu")
    monkeypatch.setenv("SERVE_MAX_BATCH_SIZE", "8")
    monkeypatch.setenv("SERVE_MAX_UPLOAD_BYTES", "4096")
    monkeypatch.setenv("SERVE_MAX_IMAGE_PIXELS", "10000")
    settings = Settings()
    assert (settings.model_repository, settings.device) == (tmp_path / "repository", "cpu")
    assert (settings.max_batch_size, settings.max_upload_bytes, settings.max_image_pixels) == (8, 4096, 10000)


def test_settings_refuse_unknown_device(monkeypatch):
    monkeypatch.setenv("SERVE_DEVICE", "tpu")
    with pytest.raises(ValidationError, match="Input should be 'auto', 'cpu' or 'cuda'"):
        Settings()


def test_image_decoders_load_at_import_not_on_first_upload():
    # A fresh interpreter: in this one, earlier tests have long since loaded every decoder.
    code = "import app.imaging; from PIL import Image; print(' '.join(sorted(Image.OPEN)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(SUPPORTED_FORMATS) <= set(run.stdout.split())


def test_create_app_tries_prediction_routes_first(app):
    paths = [getattr(route, "path", None) for route in app.router.routes[:3]]
    assert paths == ["/predict/logistic", "/predict/mnist", "/predict/mnist/pixels"]


def test_startup_runs_torch_on_the_configured_threads(client_with, monkeypatch):
    counts = []
    monkeypatch.setattr(torch, "set_num_threads", counts.append)
    client_with(torch_threads=3)
    assert counts == [3]


def test_startup_freezes_what_it_loaded_until_shutdown(app):
    with TestClient(app):
        assert gc.get_freeze_count() > 0  # out of the collector's full passes while serving
    assert gc.get_freeze_count() == 0


def test_settings_torch_threads_default_to_one():
    assert Settings().torch_threads == 1
