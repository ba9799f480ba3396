"""A 28x28 MNIST digit turned into the files people actually send: a scan, a phone photo, a paint export.

Each function takes the digit (white on black, as MNIST stores it) and a seeded ``random.Random``, and
returns the bytes of an image file. benchmarks/realworld.py runs them over the 10k MNIST test digits; the
tests use them, small, on synthetic digits. Everything is Pillow, so a capture is the same on any machine.
"""

from __future__ import annotations

import io
import random

import torch
from PIL import Image, ImageChops, ImageDraw, ImageFilter

KINDS = ("scan", "photo", "paint")


def scan(digit: Image.Image, rng: random.Random, page: tuple[int, int] | None = None) -> bytes:
    """Dark ink on white paper, the digit anywhere on a larger page, a little scanner blur, noise and dust;
    a greyscale JPEG."""
    width, height = page or (rng.randint(480, 720), rng.randint(640, 960))
    paper = rng.randint(228, 250)
    sheet = Image.new("L", (width, height), paper)
    side = rng.randint(max(40, width // 8), width // 4)
    _ink(sheet, digit, side, rng, colour=rng.randint(10, 70))
    draw = ImageDraw.Draw(sheet)
    for _ in range(rng.randint(3, 15)):  # dust and toner specks, a pixel or two across
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((0.5, 1, 1.5))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.randint(40, 160))
    sheet = sheet.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    sheet = _noisy(sheet, rng.uniform(1.5, 4), rng)
    return _encode(sheet, "JPEG", quality=rng.randint(70, 92))


def photo(digit: Image.Image, rng: random.Random, size: tuple[int, int] = (640, 480)) -> bytes:
    """A phone photo of the digit on grey paper: uneven light across the frame, focus blur, sensor noise;
    an RGB JPEG."""
    tint = (1.0, rng.uniform(0.94, 1.0), rng.uniform(0.82, 0.95))  # warm indoor light
    grey = rng.randint(140, 190)
    sheet = Image.new("RGB", size, tuple(round(grey * t) for t in tint))
    side = rng.randint(min(size) * 3 // 10, min(size) * 6 // 10)
    ink = rng.randint(15, 60)
    _ink(sheet, digit, side, rng, colour=(ink, ink, round(ink * rng.uniform(1.0, 1.6))))
    sheet = ImageChops.multiply(sheet, _uneven_light(size, rng).convert("RGB"))
    sheet = sheet.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.2) * side / 200))
    sheet = _noisy(sheet, rng.uniform(3, 8), rng)
    return _encode(sheet, "JPEG", quality=rng.randint(70, 90))


def paint(digit: Image.Image, rng: random.Random) -> bytes:
    """A thick-pen drawing exported from a paint program: hard anti-aliased strokes on a white canvas,
    the digit somewhere on it; an RGB PNG."""
    width, height = rng.randint(280, 520), rng.randint(280, 520)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    side = rng.randint(min(width, height) // 2, min(width, height) * 9 // 10)
    big = digit.resize((side, side), Image.Resampling.BICUBIC)
    pen = big.point(lambda v: 255 if v >= 110 else 0)  # the brush covers or it does not
    if rng.random() < 0.5:
        pen = pen.filter(ImageFilter.MaxFilter(2 * (side // 100) + 1))  # an even thicker brush
    pen = pen.filter(ImageFilter.GaussianBlur(0.7))  # the program's anti-aliasing
    colour = rng.choice(((0, 0, 0), (20, 20, 120), (30, 30, 30)))
    canvas.paste(Image.new("RGB", (side, side), colour), _spot(canvas.size, side, rng), pen)
    return _encode(canvas, "PNG")


def _ink(sheet: Image.Image, digit: Image.Image, side: int, rng: random.Random, colour) -> None:
    """Lay the digit's strokes, scaled to ``side`` pixels, on the sheet in ``colour`` at a random spot."""
    strokes = digit.resize((side, side), Image.Resampling.BICUBIC)
    sheet.paste(Image.new(sheet.mode, (side, side), colour), _spot(sheet.size, side, rng), strokes)


def _spot(size: tuple[int, int], side: int, rng: random.Random) -> tuple[int, int]:
    return rng.randint(0, size[0] - side), rng.randint(0, size[1] - side)


def _uneven_light(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Brightness from ``low`` to full across the frame, from a random side, times a soft vignette."""
    low = rng.uniform(0.5, 0.8)
    ramp = Image.linear_gradient("L").rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR)
    ramp = ramp.crop((64, 64, 192, 192)).resize(size, Image.Resampling.BILINEAR)
    vignette = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    ramp = ramp.point(lambda v: round(255 * (low + (1 - low) * v / 255)))
    vignette = vignette.point(lambda v: round(255 * (1 - 0.25 * v / 255)))
    return ImageChops.multiply(ramp, vignette)


def _noisy(image: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    """Gaussian noise of ``sigma`` levels on every band, from the capture's own seed."""
    generator = torch.Generator().manual_seed(rng.getrandbits(62))
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).float()
    noisy = (pixels + sigma * torch.randn(pixels.shape, generator=generator)).round_().clamp_(0, 255)
    return Image.frombytes(image.mode, image.size, noisy.to(torch.uint8).numpy().tobytes())


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


MAKERS = {"scan": scan, "photo": photo, "paint": paint}
