"""The drawing page in a real browser: Debian's Chromium driven by Playwright, against a live server.

Skipped, with the reason, only where no Chromium is installed (`.ci/run` installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from fastapi import FastAPI
from live_server import serve
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
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


def ink_boxes(page: Page, width: int, height: int, *boxes: tuple[int, int, int, int]) -> torch.Tensor | None:
    """The page's own toMnistPixels on a width x height pad inked (255) inside each (x0, y0, x1, y1)."""
    pixels = page.evaluate(
        """async ({width, height, boxes}) => {
            const { toMnistPixels } = await import("/page/page.js");
            const ink = new Uint8Array(width * height);
            for (const [x0, y0, x1, y1] of boxes) {
                for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) ink[y * width + x] = 255;
            }
            return toMnistPixels(ink, width, height);
        }""",
        {"width": width, "height": height, "boxes": boxes},
    )
    return None if pixels is None else torch.tensor(pixels, dtype=torch.float64)


def bounding_box_size(pixels: torch.Tensor) -> tuple[int, int]:
    rows, cols = pixels.sum(dim=1).nonzero(), pixels.sum(dim=0).nonzero()
    return int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def centre_of_mass(pixels: torch.Tensor) -> tuple[float, float]:
    """(x, y) in pixel-centre coordinates, so the middle of a 28x28 field is (14, 14)."""
    centres = torch.arange(pixels.shape[0], dtype=torch.float64) + 0.5
    mass = pixels.sum()
    x = (pixels.sum(dim=0) * centres).sum() / mass
    y = (pixels.sum(dim=1) * centres).sum() / mass
    return float(x), float(y)


def test_downsample_centred_box_fills_20_and_centres_by_mass(page):
    pixels = ink_boxes(page, 280, 280, (90, 115, 190, 165))  # 100x50, centred
    assert pixels.shape == (28, 28)
    assert bounding_box_size(pixels) == (20, 10)
    assert centre_of_mass(pixels) == (14.0, 14.0)
    assert pixels.max() == 255


def test_downsample_position_on_the_pad_does_not_matter(page):
    corner = ink_boxes(page, 280, 280, (0, 0, 100, 50))
    assert torch.equal(corner, ink_boxes(page, 280, 280, (90, 115, 190, 165)))


def test_downsample_odd_sizes_keep_aspect_with_grey_edges(page):
    # An "L" of 3-pixel strokes whose box is 33x77: scaled by 20/77 to 9x20, strokes under a pixel wide.
    pixels = ink_boxes(page, 300, 200, (13, 40, 16, 117), (13, 114, 46, 117))
    assert bounding_box_size(pixels) == (9, 20)
    x, y = centre_of_mass(pixels)
    assert abs(x - 14) <= 0.5
    assert abs(y - 14) <= 0.5
    assert 0 < pixels[pixels < 255].max() < 255  # anti-aliased, not thresholded


def test_downsample_blank_pad_is_none(page):
    assert ink_boxes(page, 280, 280) is None


def draw_seven(page: Page) -> None:
    pad = page.locator("#pad").bounding_box()
    left, top = pad["x"], pad["y"]
    page.mouse.move(left + 70, top + 60)
    page.mouse.down()
    for x, y in [(210, 60), (180, 130), (150, 200), (130, 240)]:
        page.mouse.move(left + x, top + y, steps=8)


def test_drawing_shows_the_prediction_for_the_pixels_sent(page, base_url):
    draw_seven(page)
    with page.expect_request("**/predict/mnist/pixels") as last_request:
        page.mouse.up()  # exactly one request follows the end of a stroke, with the finished drawing
    pixels = last_request.value.post_data_json["pixels"]
    expected = httpx.post(f"{base_url}/predict/mnist/pixels", json={"pixels": pixels}).json()
    expect(page.locator("#digit")).to_have_text(str(expected["predictions"][0]["digit"]))
    expect(page.locator(".bar[data-probability]")).to_have_count(10)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = page.screenshot(path=ARTIFACTS / "page.png", full_page=True)
    assert screenshot.startswith(b"\x89PNG")
    print(f"screenshot: {ARTIFACTS / 'page.png'}")


def test_drawing_sends_mnist_shaped_pixels(page):
    draw_seven(page)
    with page.expect_request("**/predict/mnist/pixels") as last_request:
        page.mouse.up()
    pixels = torch.tensor(last_request.value.post_data_json["pixels"], dtype=torch.float64)
    assert pixels.shape == (28, 28)
    assert max(bounding_box_size(pixels)) == 20


def test_clear_empties_the_result(page):
    draw_seven(page)
    page.mouse.up()
    expect(page.locator(".bar[data-probability]")).to_have_count(10)
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#digit")).to_have_text("–")
    expect(page.locator(".bar[data-probability]")).to_have_count(0)


def test_upload_shows_the_api_prediction(page, base_url, png_digit):
    image = png_digit(3)
    expected = httpx.post(
        f"{base_url}/predict/mnist", params={"invert": "auto"}, files={"file": ("three.png", image)}
    ).json()["predictions"][0]
    page.locator("#upload").set_input_files({"name": "three.png", "mimeType": "image/png", "buffer": image})
    expect(page.locator("#digit-caption")).to_contain_text("from three.png")
    expect(page.locator("#digit")).to_have_text(str(expected["digit"]))
    shown = page.locator(".bar").evaluate_all("bars => bars.map(b => Number(b.dataset.probability))")
    assert shown == pytest.approx(expected["probabilities"])


def test_upload_error_detail_is_shown(page):
    page.locator("#upload").set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"})
    error = "422: file 'notes.txt' is not an image that can be read"
    expect(page.locator("#digit-error")).to_have_text(error)


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
    with page.expect_request("**/predict/logistic") as request:
        page.locator("#x1").fill("1")
    assert request.value.headers["x-api-key"] == "s3cret"
