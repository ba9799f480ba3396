"""/docs, /redoc and / in Chromium with every request to another host blocked and recorded: none is made.

The page is opened under a made-up host name that Chromium resolves to the live server, so that no
"is it localhost?" shortcut in Swagger UI or ReDoc hides a fetch a real deployment would make.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import served_settings
from fastapi import FastAPI
from live_server import LiveServer, serve
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from test_page_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from app.main import create_app

pytestmark = pytest.mark.browser

HOST = "digit-serving.test"
RENDER_TIMEOUT_MS = 20_000  # a megabyte of script on a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app: FastAPI = create_app(served_settings(tmp_path_factory.mktemp("checkpoints")))
    with serve(app) as server:
        yield server


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium; install it with `apt-get install -y chromium`")
    rules = f"--host-resolver-rules=MAP {HOST} 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, rules]
        )
        yield browser
        browser.close()


@pytest.fixture
def page_and_attempts(browser: Browser, server: LiveServer) -> Iterator[tuple[Page, list[str]]]:
    """A page on the server's own origin; every request for anything else is aborted and recorded."""
    origin = f"{HOST}:{server.port}"
    attempts: list[str] = []

    def only_our_origin(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https") and url.netloc == origin:
            route.continue_()
        else:
            attempts.append(route.request.url)
            route.abort("blockedbyclient")

    context = browser.new_context(base_url=f"http://{origin}", viewport={"width": 1100, "height": 900})
    context.route("**/*", only_our_origin)
    yield context.new_page(), attempts
    context.close()


def test_swagger_ui_loads_nothing_from_other_hosts(page_and_attempts):
    page, attempts = page_and_attempts

    page.goto("/docs")

    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#operations-predict-predictLogistic")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert attempts == []


def test_redoc_loads_nothing_from_other_hosts(page_and_attempts):
    page, attempts = page_and_attempts

    page.goto("/redoc")

    heading = page.locator("h2", has_text="Classify feature values with the logistic regression")
    expect(heading).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("link", name="API docs by Redocly")).to_be_visible()
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "redoc.png")
    assert attempts == []


def test_drawing_page_loads_nothing_from_other_hosts(page_and_attempts):
    page, attempts = page_and_attempts

    page.goto("/")

    expect(page.locator("#pad")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert attempts == []


def test_blocking_records_an_attempt(page_and_attempts):
    # The check itself: a request for another host is seen and stopped, not let through unnoticed.
    page, attempts = page_and_attempts
    page.goto("/docs")

    page.evaluate("fetch('https://cdn.example.com/x.js').catch(() => null)")

    page.wait_for_load_state("networkidle")
    assert attempts == ["https://cdn.example.com/x.js"]
