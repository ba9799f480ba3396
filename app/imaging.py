"""Turning an uploaded image file into the raw pixels the MNIST model takes.

The header is read before any pixel is decoded, so the format and size are checked first and a
decompression bomb is refused without being expanded. An exact 28x28 image is read as it is (so serving
equals offline evaluation bit for bit); any other size is fitted the way MNIST was made (app/digit_fit.py),
decoding no more pixels than that needs. The commonest upload, a plain 8-bit grey PNG of exactly that size,
is read by app/plain_png.py, with the same pixels at a fraction of the cost.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from typing import Literal

import torch
from anyio import to_thread
from PIL import (
    Image,
    ImageOps,
    PngImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,  # noqa: F401 (registers the WebP decoder)
)

from app.digit_fit import NoInkError, fit_digit
from app.errors import ClientError, InvalidContentError, PayloadTooLargeError, UnsupportedMediaTypeError
from app.plain_png import plain_grey_pixels

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
FitMode = Literal["auto", "always", "never"]
# The fit works on at least this many pixels along the longer side, and less than twice as many: a digit
# that fills a tenth of the frame still spans 38 of them, more than the 20 it is fitted into. A 12-megapixel
# (4000x3000) JPEG decodes at 1/8 scale, 500x375.
WORK_SIDE = 384
_EXIF_ORIENTATION = 0x0112
# Images no larger than this (on each side) decode on the event loop: a 28x28 upload costs microseconds,
# less than the hop to a thread. Anything larger decodes in a worker thread, so that other requests, and
# /health/live, never wait behind it; at most one decode per core at a time, which bounds decoding memory.
INLINE_SIDE = 64
_DECODE_SLOTS = threading.BoundedSemaphore(
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
)
# Formats people send by mistake that Pillow cannot open, told apart by their first bytes.
_KNOWN_SIGNATURES = {
    b"%PDF": "PDF",
    b"<svg": "SVG",
    b"<?xml": "SVG/XML",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


async def read_digits(
    files: Sequence[tuple[str, bytes | bytearray]],
    *,
    size: int,
    max_pixels: int,
    invert: InvertMode,
    background_is_dark: bool,
    fit: FitMode,
) -> torch.Tensor:
    """(filename, file bytes) pairs -> uint8 [N, size * size], each row an image's pixels row by row (the
    model's input shape): every header checked before any large image is decoded."""
    sources = [(name, _plain_or_opened(data, name, size, max_pixels, fit)) for name, data in files]

    def decode_all() -> torch.Tensor:
        digits = [
            _exact_digit(source, size, invert, background_is_dark)
            if isinstance(source, bytes)
            else decode_digit(
                source,
                filename=name,
                size=size,
                invert=invert,
                background_is_dark=background_is_dark,
                fit=fit,
            ).reshape(-1)
            for name, source in sources
        ]
        # One image, the usual upload: a view of it as a batch of one, not a copy.
        return digits[0].view(1, -1) if len(digits) == 1 else torch.stack(digits)

    if all(isinstance(source, bytes) or max(source.size) <= INLINE_SIDE for _, source in sources):
        return decode_all()
    return await to_thread.run_sync(_one_per_core, decode_all)


def _plain_or_opened(
    data: bytes | bytearray, filename: str, size: int, max_pixels: int, fit: FitMode
) -> bytes | Image.Image:
    """A plain grey PNG of the model's size decoded to its pixels (app/plain_png.py), when it is small
    enough to decode inline; otherwise the file opened by Pillow, its header checked."""
    plain = fit != "always" and size <= INLINE_SIDE and size * size <= max_pixels
    if plain and (pixels := plain_grey_pixels(data, size)) is not None:
        return pixels
    return open_image(data, filename=filename, max_pixels=max_pixels)


def _one_per_core(decode):
    with _DECODE_SLOTS:
        return decode()


def open_image(data: bytes | bytearray, *, filename: str, max_pixels: int) -> Image.Image:
    """The image's header, checked: a supported format, within ``max_pixels``. No pixel is decoded yet."""
    if not data:
        raise InvalidContentError(f"file {filename!r} is empty")
    image = _open(data, filename, max_pixels)
    width, height = image.size
    if width * height > max_pixels:
        raise PayloadTooLargeError(
            f"image {filename!r} is {width}x{height} = {width * height} pixels, "
            f"over the limit of {max_pixels}"
        )
    return image


def decode_digit(
    image: Image.Image,
    *,
    filename: str,
    size: int,
    invert: InvertMode,
    background_is_dark: bool,
    fit: FitMode = "auto",
) -> torch.Tensor:
    """An opened image -> uint8 [size, size] luminance, the digit light on dark as the model expects.

    ``fit``: ``auto`` reads a size x size image as it is and fits any other; ``always`` fits every image;
    ``never`` refuses other sizes. ``invert``: ``auto`` decides the polarity from the image, ``always``
    and ``never`` force it (``always``: the ink is dark on light paper).
    """
    width, height = image.size
    exact = (width, height) == (size, size)
    if fit == "never" and not exact:
        raise InvalidContentError(
            f"image {filename!r} is {width}x{height} pixels; expected {size}x{size} "
            "(or send fit=auto to have it fitted)"
        )
    if exact and fit != "always":
        raw = _decoded(image, filename, draft=False).tobytes()
        return _exact_digit(raw, size, invert, background_is_dark).view(size, size)
    luminance = _decoded(image, filename, draft=True)
    ink = {"auto": "auto", "always": "dark", "never": "light"}[invert]
    grey = torch.frombuffer(bytearray(luminance.tobytes()), dtype=torch.uint8)
    grey = grey.view(luminance.height, luminance.width).float()
    try:
        pixels = fit_digit(grey, ink)
    except NoInkError:
        raise InvalidContentError(
            f"image {filename!r} shows no digit: nothing in it stands out from its background"
        ) from None
    return pixels if background_is_dark else 255 - pixels


def _exact_digit(raw: bytes, size: int, invert: InvertMode, background_is_dark: bool) -> torch.Tensor:
    """A size x size image's luminance bytes, read as they are -> uint8 [size * size], light on dark."""
    pixels = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    if invert == "always" or (invert == "auto" and _looks_inverted(raw, size, background_is_dark)):
        pixels = 255 - pixels
    return pixels


def _decoded(image: Image.Image, filename: str, *, draft: bool) -> Image.Image:
    """Decode to 8-bit luminance, upright; with ``draft``, at WORK_SIDE to twice that on the longer side."""
    # A freshly opened image shows its first frame (GIF, WebP, APNG): the one read here.
    with _Decoding(filename, image.format):
        if draft and image.format == "JPEG":
            # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: a 12-megapixel photo costs a fraction.
            scale = max(image.size) / WORK_SIDE
            image.draft("L", (int(image.width / scale) + 1, int(image.height / scale) + 1))
        image.load()  # every pixel decoded here, inside the guard: a broken file fails now, not later
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        grey = _to_luminance(image)
        if draft and (factor := max(grey.size) // WORK_SIDE) > 1:
            grey = grey.reduce(factor)  # box filter: anti-aliased, and cheap
        if orientation != 1:
            grey.info["exif"] = image.info.get("exif", b"")
            grey = ImageOps.exif_transpose(grey)
    return grey


def _open(data: bytes | bytearray, filename: str, max_pixels: int) -> Image.Image:
    # Opening reads only the header. The size check after it (max_pixels) refuses large images before
    # anything is decoded; Pillow's own bomb error fires first only for absurd sizes (hundreds of megapixels).
    try:
        with _Decoding(filename, None):
            # Only the supported formats' readers are tried: the others are asked only to name a format.
            image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError:
        raise _not_a_supported_image(data, filename, max_pixels) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(filename, max_pixels) from None
    if image.format not in SUPPORTED_FORMATS:  # a JPEG's reader may open it as MPO
        raise UnsupportedMediaTypeError(_unsupported(filename, image.format or "unknown"))
    return image


def _not_a_supported_image(data: bytes | bytearray, filename: str, max_pixels: int) -> ClientError:
    """The error for a file no supported format's reader opens: its format, named by its first bytes or by
    Pillow's other readers (415); too many pixels, as another reader found (413); or not an image (422)."""
    head = bytes(data[:64]).lstrip()
    known = next((name for sig, name in _KNOWN_SIGNATURES.items() if head.startswith(sig)), None)
    if known is None:
        try:
            with _Decoding(filename, None):
                known = Image.open(io.BytesIO(data)).format
        except UnidentifiedImageError:
            return InvalidContentError(f"file {filename!r} is not an image that can be read")
        except Image.DecompressionBombError:
            return _too_many_pixels(filename, max_pixels)
    return UnsupportedMediaTypeError(_unsupported(filename, known))


def _too_many_pixels(filename: str, max_pixels: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"image {filename!r} declares too many pixels to decode, over the limit of {max_pixels}"
    )


# Passed on by _Decoding: Pillow's "unidentified" and bomb errors, for _open to word, and the interpreter's.
_PASSED_ON = (UnidentifiedImageError, Image.DecompressionBombError, MemoryError, RecursionError)


class _Decoding:
    """Whatever Pillow raises while reading a client's bytes becomes that client's 422.

    Pillow reports a broken file with many exception types (OSError, ValueError, SyntaxError, struct and
    zlib errors, EOFError, IndexError...), so the type cannot tell a bad file from a bug. Where it was
    raised can: an exception from inside Pillow is the file's fault; one raised in our code passes on as
    the bug it is. Pillow's "unidentified" and bomb errors pass on too, for ``_open`` to word.

    A class rather than a @contextmanager generator: a tenth of the instructions, twice per upload.
    """

    __slots__ = ("filename", "format_name")

    def __init__(self, filename: str, format_name: str | None) -> None:
        self.filename, self.format_name = filename, format_name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, traceback: object) -> None:
        if not isinstance(exc, Exception) or isinstance(exc, _PASSED_ON) or not _raised_in_pillow(exc):
            return  # no exception, or not the file's fault: it goes on as it is
        filename = self.filename
        if any(str(exc).startswith(text) for text in _TEXT_LIMIT_ERRORS):
            raise InvalidContentError(
                f"image {filename!r} has text or colour-profile chunks that inflate past the limit of "
                f"{PngImagePlugin.MAX_TEXT_CHUNK} bytes a chunk, {PngImagePlugin.MAX_TEXT_MEMORY} in all"
            ) from None
        format_name = self.format_name
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
    """Any mode -> 8-bit luminance. 16-bit grey is scaled (not clipped) to 8 bits. Transparent parts
    become paper that contrasts with the visible ink: white ink on a transparent background stays visible."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return _scale_16_bit(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return _flatten_transparency(image.convert("RGBA"))
    return image if image.mode == "L" else image.convert("L")  # a grey image needs no conversion copy


def _scale_16_bit(image: Image.Image) -> Image.Image:
    """0..65535 -> 0..255 by dividing by 257 (65535 / 255), rounded; a plain convert("L") would clip."""
    wide = image if image.mode == "I" else image.convert("I")
    return wide.point(lambda value: value / 257 + 0.5).convert("L")


def _flatten_transparency(rgba: Image.Image) -> Image.Image:
    grey, alpha = rgba.convert("L"), rgba.getchannel("A")
    low, high = alpha.getextrema()
    if low == 255:
        return grey
    if high == 0:
        return Image.new("L", rgba.size, 255)  # nothing visible: blank paper
    # The paper takes the opposite of the visible ink's mean luminance (weighted by opacity).
    visible = torch.frombuffer(bytearray(alpha.tobytes()), dtype=torch.uint8).float()
    shade = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).float()
    ink_is_light = float((shade * visible).sum() / visible.sum()) > 127.5
    paper = Image.new("L", rgba.size, 0 if ink_is_light else 255)
    return Image.composite(grey, paper, alpha)


def _looks_inverted(pixels: bytes, size: int, background_is_dark: bool) -> bool:
    """Decide polarity as a person would: from the border, which is background in a digit image.

    On the raw bytes: slicing them costs about a microsecond, the same in tensor ops nearly a hundred.
    """
    top, bottom = pixels[:size], pixels[-size:]
    left, right = pixels[size:-size:size], pixels[2 * size - 1 : -size : size]
    border = top + bottom + left + right
    border_is_dark = sum(border) < 128 * len(border)
    return border_is_dark != background_is_dark
