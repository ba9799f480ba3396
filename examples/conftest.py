"""Where the service under test is: ``--base-url`` or $DIGIT_SERVE_URL, and its API key, if it has one.

pytest examples/ --base-url https://digits.example.com --api-key "$SERVE_API_KEY"
DIGIT_SERVE_URL=http://localhost:8000 pytest examples/
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import httpx
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deployment", "the deployment under test")
    # pytest-base-url (which pytest-playwright brings) may have added --base-url already, to the same end.
    with contextlib.suppress(ValueError):
        group.addoption("--base-url", help="the service's address (default: $DIGIT_SERVE_URL)")
    group.addoption("--api-key", help="the service's API key, if it has one (default: $DIGIT_SERVE_API_KEY)")


@pytest.fixture(scope="session")
def api_key(request: pytest.FixtureRequest) -> str | None:
    return request.config.getoption("api_key") or os.environ.get("DIGIT_SERVE_API_KEY")


@pytest.fixture(scope="session")
def client(request: pytest.FixtureRequest, api_key: str | None) -> Iterator[httpx.Client]:
    base_url = request.config.getoption("base_url") or os.environ.get("DIGIT_SERVE_URL")
    if not base_url:
        pytest.fail("say where the service is: --base-url URL or DIGIT_SERVE_URL=URL", pytrace=False)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        yield client
