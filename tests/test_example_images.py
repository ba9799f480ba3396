"""examples/: the sample images the README's curl commands upload, read by the committed MNIST model."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
IMAGES = sorted((ROOT / "examples").glob("*-[0-9].*"))  # digit-7.png, photo-2.jpg, scan-4.jpg, ...


@pytest.fixture(scope="module")
def committed() -> TestClient:
    settings = Settings(
        logistic_checkpoint=ROOT / "checkpoints" / "logistic.pt",
        mnist_checkpoint=ROOT / "checkpoints" / "mnist.pt",
        device="cpu",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_examples_hold_a_digit_a_photo_a_scan_and_a_drawing():
    assert {path.name.split("-")[0] for path in IMAGES} == {"digit", "photo", "scan", "drawing"}


@pytest.mark.parametrize("path", IMAGES, ids=lambda path: path.name)
def test_example_image_reads_as_its_digit(committed, path):
    response = committed.post("/predict/mnist", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 200
    assert response.json()["predictions"][0]["digit"] == int(path.stem.split("-")[1])
