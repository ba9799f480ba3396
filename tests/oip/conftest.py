"""A live server for the Open Inference Protocol client tests, shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import make_logistic, make_softmax
from live_server import LiveServer, serve

import models
from app.main import create_app
from app.settings import Settings


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("checkpoints")
    settings = Settings(
        logistic_checkpoint=models.save(make_logistic(), folder / "logistic.pt", version="1.0.0"),
        mnist_checkpoint=models.save(make_softmax(), folder / "mnist.pt", version="1.0.0"),
        device="cpu",
    )
    with serve(create_app(settings)) as server:
        yield server
