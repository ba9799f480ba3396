"""A live server for the Open Inference Protocol client tests, shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import served_settings
from live_server import LiveServer, serve

from app.main import create_app


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(create_app(served_settings(tmp_path_factory.mktemp("checkpoints")))) as server:
        yield server
