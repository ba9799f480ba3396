import asyncio
import io
import random
import threading

import httpx
import pytest
import torch
from live_server import serve
from PIL import Image

from app import imaging
from app.digit_fit import fit_digit
from app.imaging import WORK_SIDE, decode_digit, open_image
from benchmarks.captures import paint, photo, scan

SEVEN = ((60, 40, 220, 70), (180, 40, 215, 250))  # a bar and a stem, as (x0, y0, x1, y1), on 280x280


def drawing(mode: str = "L", ink=0, paper=255, size=(280, 280)) -> Image.Image:
    image = Image.new(mode, size, paper)
    for box in SEVEN:
        image.paste(ink, box)
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def read(data: bytes, **options) -> torch.Tensor:
    image = open_image(data, filename="d", max_pixels=30_000_000)
    return decode_digit(
        image, filename="d", size=28, background_is_dark=True, **{"invert": "auto", **options}
    )


def test_decode_digit_exif_orientation_is_applied():
    upright = drawing()
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the stored pixels rotated 90 degrees clockwise
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    assert torch.equal(read(encoded(stored, exif=exif)), read(encoded(upright)))


def test_decode_digit_16_bit_grey_is_scaled_not_clipped():
    eight = torch.randint(0, 256, (28, 28), generator=torch.Generator().manual_seed(1), dtype=torch.int32)
    sixteen = Image.frombytes("I;16", (28, 28), (eight * 257).to(torch.int16).numpy().tobytes())
    assert torch.equal(read(encoded(sixteen), invert="never"), eight.to(torch.uint8))


def test_decode_digit_16_bit_drawing_fits_like_8_bit():
    grey = drawing()
    wide = grey.convert("I").point(lambda v: v * 257)
    assert torch.equal(read(encoded(wide.convert("I;16"))), read(encoded(grey)))


def test_decode_digit_white_ink_on_transparent_stays_visible():
    strokes = drawing("RGBA", ink=(255, 255, 255, 255), paper=(255, 255, 255, 0))
    assert torch.equal(read(encoded(strokes)), read(encoded(drawing())))


def test_decode_digit_black_ink_on_transparent_stays_visible():
    strokes = drawing("RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    assert torch.equal(read(encoded(strokes)), read(encoded(drawing())))


def test_decode_digit_large_jpeg_decodes_at_reduced_scale(monkeypatch):
    seen = []
    monkeypatch.setattr(
        imaging, "fit_digit", lambda grey, ink: seen.append(grey.shape) or fit_digit(grey, ink)
    )
    read(encoded(drawing(size=(4000, 3000)).convert("RGB"), "JPEG"))
    assert max(seen[0]) < 2 * WORK_SIDE


def test_decode_digit_exact_size_never_fitted_with_fit_auto():
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[2:5, 2:5] = 255  # a corner mark: fitting would move and enlarge it
    image = Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist()))
    assert torch.equal(read(encoded(image)), pixels)
    assert not torch.equal(read(encoded(image), fit="always"), pixels)


def test_decode_digit_exact_size_read_as_it_is_with_fit_never():
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[2:5, 2:5] = 255
    image = Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist()))
    assert torch.equal(read(encoded(image, "BMP"), fit="never"), pixels)
    assert torch.equal(digits([("d.png", encoded(image))], fit="never")[0], pixels.flatten())


@pytest.mark.parametrize("capture", [scan, photo, paint], ids=["scan", "photo", "paint"])
def test_decode_digit_reads_captures_like_the_clean_digit(capture):
    digit = drawing(ink=255, paper=0).resize((28, 28), Image.Resampling.BOX)  # white on black, as MNIST
    clean = read(encoded(drawing()))
    small = {"page": (240, 320)} if capture is scan else {"size": (320, 240)} if capture is photo else {}
    fitted = read(capture(digit, random.Random(0), **small))
    similarity = torch.nn.functional.cosine_similarity(
        fitted.flatten().float(), clean.flatten().float(), dim=0
    )
    assert similarity > 0.85


def test_decoding_large_images_leaves_health_answering(monkeypatch, app):
    """While a large image is being decoded, /health/live still answers: decoding runs off the event loop."""
    started, release = threading.Event(), threading.Event()
    real = imaging.decode_digit

    def slow_decode(*args, **kwargs):
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(imaging, "decode_digit", slow_decode)
    with serve(app) as server:
        result = {}
        upload = threading.Thread(
            target=lambda: result.update(
                response=httpx.post(
                    f"{server.url}/predict/mnist", files={"file": ("big.png", encoded(drawing()))}, timeout=20
                )
            )
        )
        upload.start()
        assert started.wait(10)
        health = httpx.get(f"{server.url}/health/live", timeout=5)
        release.set()
        upload.join(20)
    assert health.status_code == 200
    assert result["response"].status_code == 200


def test_open_image_unsupported_format_is_named():
    with pytest.raises(imaging.UnsupportedMediaTypeError) as refused:
        open_image(b"P5\n28 28\n255\n" + bytes(784), filename="d.ppm", max_pixels=10**6)
    assert str(refused.value) == (
        "file 'd.ppm' is in PPM format; supported image formats: PNG, JPEG, BMP, GIF, WEBP"
    )


def test_open_image_bomb_in_an_unsupported_format_is_too_large():
    # Only another format's reader finds the size, and it raises Pillow's bomb error before naming a format.
    bomb = b"P5\n100000 100000\n255\n" + bytes(16)
    with pytest.raises(imaging.PayloadTooLargeError) as refused:
        open_image(bomb, filename="d.ppm", max_pixels=10**6)
    assert str(refused.value) == "image 'd.ppm' declares too many pixels to decode, over the limit of 1000000"


def digits(files, **options) -> torch.Tensor:
    defaults = {"size": 28, "max_pixels": 10**6, "invert": "auto", "background_is_dark": True, "fit": "auto"}
    return asyncio.run(imaging.read_digits(files, **{**defaults, **options}))


def test_read_digits_plain_grey_png_equals_pillows_reading(monkeypatch):
    data = encoded(Image.effect_noise((28, 28), 60))
    assert imaging.plain_grey_pixels(data, 28) is not None
    fast = digits([("a.png", data)])
    monkeypatch.setattr(imaging, "plain_grey_pixels", lambda data, side: None)
    assert torch.equal(fast, digits([("a.png", data)]))
    assert fast.shape == (1, 784)


def test_read_digits_mixes_plain_and_other_files_in_order():
    plain, other = encoded(Image.effect_noise((28, 28), 60)), encoded(Image.effect_noise((28, 28), 90), "BMP")
    batch = digits([("a.png", plain), ("b.bmp", other), ("c.png", plain)])
    assert batch.shape == (3, 784)
    assert torch.equal(batch[0], digits([("a.png", plain)])[0])
    assert torch.equal(batch[1], digits([("b.bmp", other)])[0])
    assert torch.equal(batch[2], batch[0])
    assert not torch.equal(batch[0], batch[1])


def test_read_digits_broken_plain_png_keeps_pillows_error():
    data = encoded(Image.effect_noise((28, 28), 60))
    with pytest.raises(imaging.InvalidContentError, match=r"^image 'a.png' is truncated or corrupt \(PNG: "):
        digits([("a.png", data[:60] + data[-12:])])


def test_read_digits_plain_grey_png_over_the_pixel_limit_is_refused():
    with pytest.raises(imaging.PayloadTooLargeError, match="over the limit of 700"):
        digits([("a.png", encoded(Image.effect_noise((28, 28), 60)))], max_pixels=700)
