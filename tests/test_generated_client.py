"""A client generated from the live /openapi.json by openapi-python-client, used against that server.

Generated names are what a user reads: operations and models must come out as predict_logistic,
LogisticRequest, DigitUpload, not as FastAPI's route-derived defaults.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from conftest import digit_pixels, encode_image, served_settings
from live_server import LiveServer, serve

from app.main import create_app

PACKAGE = "digit_serving_client"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(create_app(served_settings(tmp_path_factory.mktemp("checkpoints")))) as server:
        yield server


@pytest.fixture(scope="module")
def client_package(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported; generated from the server's document as a user would."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "openapi.json").write_bytes(httpx.get(f"{server.url}/openapi.json").content)
    (folder / "config.yaml").write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generate = [
        str(Path(sys.executable).parent / "openapi-python-client"), "generate",
        "--path", "openapi.json", "--output-path", PACKAGE, "--meta", "none", "--config", "config.yaml",
    ]  # fmt: skip
    result = subprocess.run(generate, cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def generated(package: ModuleType, module: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{module}")


def test_generated_client_predicts_logistic(client_package, server):
    predict_logistic = generated(client_package, "api.predict.predict_logistic")
    models = generated(client_package, "models")
    client = client_package.Client(base_url=server.url)

    answer = predict_logistic.sync(client=client, body=models.LogisticRequest(features=[4.0, 3.0]))

    assert isinstance(answer, models.LogisticResponse)
    expected = httpx.post(f"{server.url}/predict/logistic", json={"features": [4.0, 3.0]}).json()
    assert answer.to_dict() == expected
    assert answer.model.name == "logistic"
    assert answer.predictions[0].label == 1


def test_generated_client_predicts_digits_from_an_image(client_package, server):
    predict_digits = generated(client_package, "api.predict.predict_digits")
    models = generated(client_package, "models")
    types = generated(client_package, "types")
    image = encode_image(digit_pixels())
    file = types.File(payload=image, file_name="digit.png", mime_type="image/png")
    upload = models.DigitUpload(file=[file])

    answer = predict_digits.sync(client=client_package.Client(base_url=server.url), body=upload)

    assert isinstance(answer, models.DigitResponse)
    expected = httpx.post(f"{server.url}/predict/mnist", files={"file": ("digit.png", image)}).json()
    assert answer.to_dict() == expected
    assert len(answer.predictions[0].probabilities) == 10


def test_generated_client_parses_a_refusal(client_package, server):
    predict_logistic = generated(client_package, "api.predict.predict_logistic")
    models = generated(client_package, "models")
    client = client_package.Client(base_url=server.url)

    response = predict_logistic.sync_detailed(client=client, body=models.LogisticRequest(features=[1.0]))

    assert response.status_code == 422
    assert isinstance(response.parsed, models.ErrorResponse)
    assert response.parsed.detail == "instance 0 has 1 features; expected 2 (x1, x2)"
