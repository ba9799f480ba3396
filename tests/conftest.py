"""Fixtures shared by the whole suite: a tiny model repository in tmp_path, settings, an app and a client.

Nothing here touches ../shared, the network or a GPU.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

import models
from app.main import create_app
from app.settings import Settings


def make_logistic(seed: int = 0) -> models.LogisticRegression:
    """A logistic model with the toy-set solution's weights, so predictions are meaningful."""
    torch.manual_seed(seed)
    model = models.LogisticRegression()
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[3.2530, 1.5179]]))
        model.linear.bias.fill_(-14.4819)
    return model


def make_softmax(seed: int = 0) -> models.SoftmaxRegression:
    torch.manual_seed(seed)
    return models.SoftmaxRegression()


def write_repository(folder: Path) -> Path:
    """A model repository in ``folder``: version 1 of ``logistic`` and of ``mnist``, tiny checkpoints."""
    models.save(
        make_logistic(),
        folder / "logistic" / "1.pt",
        version="1.0.0",
        metadata={"metrics": {"accuracy": 1.0}},
    )
    models.save(
        make_softmax(), folder / "mnist" / "1.pt", version="1.0.0", metadata={"metrics": {"accuracy": 0.1}}
    )
    return folder


def served_settings(folder: Path) -> Settings:
    """Settings serving a tiny repository written to ``folder``, for fixtures wider than one test."""
    return Settings(model_repository=write_repository(folder), device="cpu")


@pytest.fixture
def model_repository(tmp_path: Path) -> Path:
    return write_repository(tmp_path / "repository")


@pytest.fixture
def logistic_checkpoint(model_repository: Path) -> Path:
    return model_repository / "logistic" / "1.pt"


@pytest.fixture
def mnist_checkpoint(model_repository: Path) -> Path:
    return model_repository / "mnist" / "1.pt"


@pytest.fixture
def serve_env(model_repository: Path) -> dict[str, str]:
    """The environment of a ``digit-serve`` process (tests/live_server.py) serving the tiny repository."""
    return {"SERVE_MODEL_REPOSITORY": str(model_repository)}


@pytest.fixture
def settings(model_repository: Path) -> Settings:
    return Settings(model_repository=model_repository, device="cpu", repository_poll_seconds=0.2)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client_with(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """A started client whose settings differ from the default fixture's by the given fields."""
    with ExitStack() as stack:

        def make(**overrides) -> TestClient:
            app = create_app(settings.model_copy(update=overrides))
            return stack.enter_context(TestClient(app))

        yield make


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:  # runs the lifespan, so the models are loaded
        yield client


def encode_image(pixels: torch.Tensor, fmt: str = "PNG", mode: str = "L") -> bytes:
    """uint8 [H, W] pixels -> the bytes of an image file in ``fmt``."""
    image = Image.frombytes(
        "L", (pixels.shape[1], pixels.shape[0]), bytes(pixels.to(torch.uint8).flatten().tolist())
    )
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, fmt)
    return buffer.getvalue()


def digit_pixels(seed: int = 0) -> torch.Tensor:
    """A 28x28 white-on-black blob that looks enough like a stroke for polarity checks."""
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[6:22, 12:16] = torch.randint(180, 256, (16, 4), generator=generator, dtype=torch.uint8)
    return pixels


@pytest.fixture
def png_digit() -> Callable[..., bytes]:
    return lambda seed=0: encode_image(digit_pixels(seed))
