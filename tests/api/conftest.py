"""Fixtures for the API tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def client_with(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """A started client whose settings differ from the default fixture's by the given fields."""
    with ExitStack() as stack:

        def make(**overrides) -> TestClient:
            app = create_app(settings.model_copy(update=overrides))
            return stack.enter_context(TestClient(app))

        yield make
