"""Turning an uploaded image file into the raw pixels the MNIST model takes.

The header is read before any pixel is decoded, so the format and size are checked first and a
decompression bomb is refused without being expanded.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from PIL import (
    Image,
    PngImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,  # noqa: F401 (registers the WebP decoder)
)

from app.errors import InvalidContentError, PayloadTooLargeError, UnsupportedMediaTypeError

SUPPORTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
# The supported formats' decoders load with this module, at start-up: left to Pillow, they load on the
# first Image.open, and the first upload a new worker serves waits about 100 ms for them.
Image.preinit()  # BMP, GIF, JPEG, PNG (and PPM); WebP is registered by its import above
# Pillow inflates a PNG's compressed text and ICC chunks while reading its header, by default up to 1 MB a
# chunk and 64 MB a file. A digit needs none of them: a real file's few kilobytes pass, a crafted one's
# megabytes are refused after inflating no more than this.
PngImagePlugin.MAX_TEXT_CHUNK = 64 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 256 * 1024
_TEXT_LIMIT_ERRORS = ("Decompressed data too large", "Too much memory used in text chunks")
InvertMode = Literal["auto", "always", "never"]
# Formats people send by mistake that Pillow cannot open, told apart by their first bytes.
_KNOWN_SIGNATURES = {
    b"%PDF": "PDF",
    b"<svg": "SVG",
    b"<?xml": "SVG/XML",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def decode_digit(
    data: bytes | bytearray,
    *,
    filename: str,
    size: int,
    max_pixels: int,
    invert: InvertMode,
    background_is_dark: bool,
) -> torch.Tensor:
    """An image file -> uint8 [size, size] luminance, the digit light on dark as the model expects.

    ``invert``: ``auto`` flips images whose border is lighter than their middle would suggest
    (dark ink on light paper), ``always`` and ``never`` force the choice.
    """
    if not data:
        raise InvalidContentError(f"file {filename!r} is empty")
    image = _open(data, filename, max_pixels)
    width, height = image.size
    if width * height > max_pixels:
        raise PayloadTooLargeError(
            f"image {filename!r} is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels}; expected {size}x{size}"
        )
    if (width, height) != (size, size):
        raise InvalidContentError(f"image {filename!r} is {width}x{height} pixels; expected {size}x{size}")
    with _decoding(filename, image.format):
        raw = _to_luminance(image).tobytes()  # decodes: a broken file fails here
    pixels = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(size, size)
    if invert == "always" or (invert == "auto" and _looks_inverted(raw, size, background_is_dark)):
        pixels = 255 - pixels
    return pixels


def _open(data: bytes | bytearray, filename: str, max_pixels: int) -> Image.Image:
    # Opening reads only the header. The size check after it (max_pixels) refuses large images before
    # anything is decoded; Pillow's own bomb error fires first only for absurd sizes (hundreds of megapixels).
    try:
        with _decoding(filename, None):
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        head = bytes(data[:64]).lstrip()
        known = next((name for sig, name in _KNOWN_SIGNATURES.items() if head.startswith(sig)), None)
        if known:
            raise UnsupportedMediaTypeError(_unsupported(filename, known)) from None
        if isinstance(exc, Image.DecompressionBombError):
            raise PayloadTooLargeError(
                f"image {filename!r} declares too many pixels to decode, over the limit of {max_pixels}"
            ) from None
        raise InvalidContentError(f"file {filename!r} is not an image that can be read") from None
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedMediaTypeError(_unsupported(filename, image.format or "unknown"))
    return image


@contextmanager
def _decoding(filename: str, format_name: str | None) -> Iterator[None]:
    """Whatever Pillow raises while reading a client's bytes becomes that client's 422.

    Pillow reports a broken file with many exception types (OSError, ValueError, SyntaxError, struct and
    zlib errors, EOFError, IndexError...), so the type cannot tell a bad file from a bug. Where it was
    raised can: an exception from inside Pillow is the file's fault; one raised in our code passes on as
    the bug it is. Pillow's "unidentified" and bomb errors pass on too, for ``_open`` to word.
    """
    try:
        yield
    except (UnidentifiedImageError, Image.DecompressionBombError, MemoryError, RecursionError):
        raise
    except Exception as exc:
        if not _raised_in_pillow(exc):
            raise
        if any(str(exc).startswith(text) for text in _TEXT_LIMIT_ERRORS):
            raise InvalidContentError(
                f"image {filename!r} has text or colour-profile chunks that inflate past the limit of "
                f"{PngImagePlugin.MAX_TEXT_CHUNK} bytes a chunk, {PngImagePlugin.MAX_TEXT_MEMORY} in all"
            ) from None
        reason = f"{format_name}: {exc}" if format_name else str(exc) or type(exc).__name__
        raise InvalidContentError(f"image {filename!r} is truncated or corrupt ({reason})") from None


def _raised_in_pillow(exc: BaseException) -> bool:
    """Whether the innermost Python frame of ``exc``'s traceback is Pillow's (C decoders have none)."""
    traceback = exc.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    module = traceback.tb_frame.f_globals.get("__name__", "") if traceback else ""
    return module == "PIL" or module.startswith("PIL.")


def _unsupported(filename: str, found: str) -> str:
    return f"file {filename!r} is in {found} format; supported image formats: {', '.join(SUPPORTED_FORMATS)}"


def _to_luminance(image: Image.Image) -> Image.Image:
    """Grey, RGB, palette or with alpha -> 8-bit luminance; transparency composited onto white paper."""
    image.seek(0)  # GIF and WebP: the first frame
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("L")
    return image if image.mode == "L" else image.convert("L")  # a grey image needs no conversion copy


def _looks_inverted(pixels: bytes, size: int, background_is_dark: bool) -> bool:
    """Decide polarity as a person would: from the border, which is background in a digit image.

    On the raw bytes: slicing them costs about a microsecond, the same in tensor ops nearly a hundred.
    """
    top, bottom = pixels[:size], pixels[-size:]
    left, right = pixels[size:-size:size], pixels[2 * size - 1 : -size : size]
    border = top + bottom + left + right
    border_is_dark = sum(border) < 128 * len(border)
    return border_is_dark != background_is_dark
