"""Hostile PNG chunks: whatever Pillow raises on a client's bytes is that client's 4xx, never a 500."""

import struct
import time
import zlib

import pytest
from conftest import digit_pixels, encode_image

from api.helpers import upload
from app import imaging


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with(*chunks: bytes, ihdr: bytes | None = None) -> bytes:
    """A valid 28x28 PNG with ``chunks`` inserted after its IHDR (or its IHDR replaced)."""
    png = encode_image(digit_pixels())
    signature, header, rest = png[:8], png[8:33], png[33:]
    return signature + (header if ihdr is None else ihdr) + b"".join(chunks) + rest


_INFLATING = zlib.compress(b"a" * 8_000_000)  # 8 MB of text in about 8 KB
HOSTILE_PNGS = {
    "zTXt inflating to megabytes": _png_with(_chunk(b"zTXt", b"k\x00\x00" + _INFLATING)),
    "iTXt inflating to megabytes": _png_with(_chunk(b"iTXt", b"k\x00\x01\x00\x00\x00" + _INFLATING)),
    "iCCP inflating to megabytes": _png_with(_chunk(b"iCCP", b"p\x00\x00" + _INFLATING)),
    "short IHDR": _png_with(ihdr=_chunk(b"IHDR", b"\x00\x00\x00\x1c")),
    "empty sRGB": _png_with(_chunk(b"sRGB", b"")),
    "short APNG fcTL": _png_with(_chunk(b"acTL", struct.pack(">II", 1, 0)), _chunk(b"fcTL", b"\x00\x00")),
    "IDAT cut short": encode_image(digit_pixels())[:-30],
}


@pytest.mark.parametrize("data", HOSTILE_PNGS.values(), ids=HOSTILE_PNGS.keys())
def test_predict_mnist_hostile_png_chunks_are_422(client, data):
    response = client.post("/predict/mnist", files=upload(("bad.png", data)))
    assert response.status_code == 422
    assert response.json()["detail"].startswith("image 'bad.png' ")


def test_predict_mnist_text_chunks_inflate_no_more_than_the_cap(client):
    many = _png_with(*[_chunk(b"zTXt", b"k\x00\x00" + _INFLATING)] * 20)
    started = time.perf_counter()
    response = client.post("/predict/mnist", files=upload(("bad.png", many)))
    assert (response.status_code, response.json()["detail"]) == (
        422,
        "image 'bad.png' has text or colour-profile chunks that inflate past the limit of 65536 bytes a "
        "chunk, 262144 in all",
    )
    assert time.perf_counter() - started < 1.0  # 20 chunks of 8 MB would take seconds to inflate


def test_predict_mnist_small_text_chunk_is_still_read(client):
    data = _png_with(_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"drawn by hand")))
    response = client.post("/predict/mnist", files=upload(("ok.png", data)))
    assert response.status_code == 200


def test_decode_digit_a_bug_of_ours_is_not_a_client_error(monkeypatch):
    def broken(image):
        raise AttributeError("a bug in our own code")

    monkeypatch.setattr(imaging, "_to_luminance", broken)
    image = imaging.open_image(encode_image(digit_pixels()), filename="ok.png", max_pixels=10_000)
    with pytest.raises(AttributeError):
        imaging.decode_digit(image, filename="ok.png", size=28, invert="never", background_is_dark=True)
