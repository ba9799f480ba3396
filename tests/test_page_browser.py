"""The drawing page in a real browser: Debian's Chromium driven by Playwright, against a live server.

Skipped, with the reason, only where no Chromium is installed (`.ci/run` installs it).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from fastapi import FastAPI
from live_server import serve
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_digit_fit import bounding_box_size, centre_of_mass

from benchmarks.captures import MAKERS

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PAGE_PARAMS = [("include", "input"), ("include", "explanation")]  # what the page asks for
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Root on a closed network: no sandbox, and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium; install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    """The app behind uvicorn on a free loopback port, in a thread, for as long as the test runs."""
    with serve(app) as server:
        yield server.url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 820, "height": 860})
    page = context.new_page()
    page.goto("/")
    yield page
    context.close()


def draw_seven(page: Page) -> None:
    pad = page.locator("#pad").bounding_box()
    left, top = pad["x"], pad["y"]
    page.mouse.move(left + 70, top + 60)
    page.mouse.down()
    for x, y in [(210, 60), (180, 130), (150, 200), (130, 240)]:
        page.mouse.move(left + x, top + y, steps=8)


def drawn_prediction(page: Page) -> dict:
    """Finish the stroke under way and return the server's answer to the last drawing the page sent.

    The page encodes a drawing asynchronously, so a request begun just before the stroke ended can go out
    after it: the page shows the newest answer, so the test reads the last request, not the first.
    """
    sent = []
    page.on("request", lambda request: sent.append(request) if "/predict/mnist?" in request.url else None)
    page.mouse.up()  # a request with the finished drawing follows the end of a stroke
    page.wait_for_timeout(1000)
    assert sent, "no prediction was requested after the stroke ended"
    response = sent[-1].response()  # its own answer, not an earlier request's arriving late
    assert response.status == 200
    assert "multipart/form-data" in response.request.headers["content-type"]  # the drawing, as a file
    return response.json()["predictions"][0]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert page.screenshot(path=ARTIFACTS / name, full_page=True).startswith(b"\x89PNG")
    print(f"screenshot: {ARTIFACTS / name}")


def test_drawing_shows_the_server_prediction_and_its_28x28(page, base_url):
    draw_seven(page)
    expected = drawn_prediction(page)
    expect(page.locator("#digit")).to_have_text(str(expected["digit"]))
    expect(page.locator(".bar[data-probability]")).to_have_count(10)
    expect(page.locator("#preview")).to_have_attribute(
        "src", f"data:image/png;base64,{expected['input']['png']}"
    )
    shot(page, "page.png")


def test_drawing_is_fitted_by_the_server(page, base_url):
    draw_seven(page)
    pixels = torch.tensor(drawn_prediction(page)["input"]["pixels"], dtype=torch.float64)
    assert pixels.shape == (28, 28)
    assert max(bounding_box_size(pixels)) == 20  # MNIST's box
    x, y = centre_of_mass(pixels)
    assert abs(x - 14) <= 0.5
    assert abs(y - 14) <= 0.5


def test_explanation_view_shows_contributions_and_templates(page, base_url):
    draw_seven(page)
    expected = drawn_prediction(page)
    heatmap = page.locator("#heatmap")
    expect(heatmap).to_have_attribute("data-digit", str(expected["digit"]))
    expect(page.locator("#heatmap-note")).to_contain_text(
        f"{expected['explanation']['predicted']['logit']:.2f}"
    )
    page.locator("#heatmap-class").select_option("runner_up")
    expect(heatmap).to_have_attribute("data-digit", str(expected["explanation"]["runner_up"]["digit"]))
    expect(page.locator("#templates canvas")).to_have_count(10)
    painted = heatmap.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, 28, 28).data.some((v, i) => i % 4 < 3 && v < 250)"
    )
    assert painted  # some pixel carries colour: the map is drawn, not left white
    shot(page, "page-explanation.png")


@pytest.mark.parametrize("kind", ["photo", "scan"])
def test_upload_of_a_capture_shows_the_api_prediction(page, base_url, kind):
    digit = Image.new("L", (28, 28), 0)
    digit.paste(255, (9, 6, 19, 9))  # a bar and a stem: a seven, white on black as MNIST stores it
    digit.paste(255, (16, 6, 19, 23))
    small = {"size": (640, 480)} if kind == "photo" else {"page": (600, 800)}
    data = MAKERS[kind](digit, random.Random(0), **small)
    name = f"{kind}.jpg"
    expected = httpx.post(
        f"{base_url}/predict/mnist", params=PAGE_PARAMS, files={"file": (name, data)}
    ).json()
    [prediction] = expected["predictions"]
    page.locator("#upload").set_input_files({"name": name, "mimeType": "image/jpeg", "buffer": data})
    expect(page.locator("#digit-caption")).to_contain_text(f"from {name}")
    expect(page.locator("#digit")).to_have_text(str(prediction["digit"]))
    shown = page.locator(".bar").evaluate_all("bars => bars.map(b => Number(b.dataset.probability))")
    assert shown == pytest.approx(prediction["probabilities"])
    expect(page.locator("#preview")).to_have_attribute(
        "src", f"data:image/png;base64,{prediction['input']['png']}"
    )
    shot(page, f"page-{kind}.png")


def test_clear_empties_the_result(page):
    draw_seven(page)
    page.mouse.up()
    expect(page.locator(".bar[data-probability]")).to_have_count(10)
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#digit")).to_have_text("–")
    expect(page.locator(".bar[data-probability]")).to_have_count(0)
    expect(page.locator("#preview")).to_be_hidden()


def test_upload_error_detail_is_shown_and_nothing_stale(page, base_url):
    draw_seven(page)
    page.mouse.up()
    expect(page.locator("#preview")).to_be_visible()
    page.locator("#upload").set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"})
    error = "422: file 'notes.txt' is not an image that can be read"
    expect(page.locator("#digit-error")).to_have_text(error)
    expect(page.locator("#digit-caption")).to_have_text("Could not read notes.txt.")
    expect(page.locator("#preview")).to_be_hidden()
    expect(page.locator("#digit")).to_have_text("–")


def test_upload_wins_over_a_drawing_encoded_after_it(page, base_url):
    # The drawing's PNG is encoded asynchronously; here it takes a second, so its request goes out after
    # the upload's. The upload came later, so its answer is the one shown.
    page.evaluate(
        """() => {
            const toBlob = HTMLCanvasElement.prototype.toBlob;
            HTMLCanvasElement.prototype.toBlob = function (callback, ...rest) {
                toBlob.call(this, (blob) => setTimeout(() => callback(blob), 1000), ...rest);
            };
        }"""
    )
    draw_seven(page)
    page.mouse.up()
    page.locator("#upload").set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"})
    expect(page.locator("#digit-error")).to_have_text(
        "422: file 'notes.txt' is not an image that can be read"
    )
    page.wait_for_timeout(2500)  # every delayed drawing has been answered by now
    expect(page.locator("#digit-caption")).to_have_text("Could not read notes.txt.")
    expect(page.locator("#digit")).to_have_text("–")


def test_logistic_curve_marks_the_input(page, base_url):
    expected = httpx.post(
        f"{base_url}/predict/logistic", params={"include": "explanation"}, json={"features": [4.5, 3.0]}
    ).json()["predictions"][0]
    page.locator("#x1").fill("4.5")
    page.locator("#x2").fill("3")
    expect(page.locator("#probability")).to_have_text(f"{expected['probability']:.4f}")
    curve = page.locator("#sigmoid")
    expect(curve).to_have_attribute("data-x", "4.5")
    expect(curve).to_have_attribute("data-p", str(expected["probability"]))
    expect(page.locator("#sigmoid-caption")).to_contain_text(f"{expected['explanation']['logit']:.2f}")
    shot(page, "page-logistic.png")


def test_logistic_shows_the_api_probability(page, base_url):
    expected = httpx.post(f"{base_url}/predict/logistic", json={"features": [2.5, 5.0]}).json()
    prediction = expected["predictions"][0]
    page.locator("#x1").fill("2.5")
    page.locator("#x2").fill("5")
    expect(page.locator("#probability")).to_have_text(f"{prediction['probability']:.4f}")
    expect(page.locator("#label")).to_have_text(str(prediction["label"]))


def test_api_key_is_sent_as_header(page):
    page.get_by_text("API key").click()
    page.locator("#api-key").fill("s3cret")
    page.get_by_role("button", name="Save").click()
    with page.expect_request("**/predict/logistic?*") as request:
        page.locator("#x1").fill("1")
    assert request.value.headers["x-api-key"] == "s3cret"
