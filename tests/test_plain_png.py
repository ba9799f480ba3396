import io
import struct
import zlib

import pytest
from PIL import Image

from app.plain_png import MOST_BYTES, plain_grey_pixels

SIDE = 28


def pixels(seed: int = 0) -> bytes:
    return bytes((x * 7 + y * 13 + seed * (x ^ y)) % 256 for y in range(SIDE) for x in range(SIDE))


def filtered(raw: bytes, kind: int, side: int = SIDE) -> bytes:
    """PNG scanlines of ``raw`` (8-bit grey), each row filtered with ``kind`` (0 None ... 4 Paeth)."""

    def paeth(a: int, b: int, c: int) -> int:
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else b if pb <= pc else c

    out, previous = bytearray(), bytes(side)
    for y in range(side):
        row = raw[y * side : (y + 1) * side]
        out.append(kind)
        for x, value in enumerate(row):
            left, up, up_left = row[x - 1] if x else 0, previous[x], previous[x - 1] if x else 0
            predictor = (0, left, up, (left + up) // 2, paeth(left, up, up_left))[kind]
            out.append((value - predictor) % 256)
        previous = row
    return bytes(out)


def chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png(idat: bytes | None = None, *, header=(SIDE, SIDE, 8, 0, 0, 0, 0), before=(), after=()) -> bytes:
    idat = zlib.compress(filtered(pixels(), 0)) if idat is None else idat
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", *header))
        + b"".join(before)
        + chunk(b"IDAT", idat)
        + b"".join(after)
        + chunk(b"IEND", b"")
    )


def pillow(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).tobytes()


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_plain_grey_pixels_equal_pillows_for_each_row_filter(kind):
    data = png(zlib.compress(filtered(pixels(kind), kind)))
    assert plain_grey_pixels(data, SIDE) == pillow(data) == pixels(kind)


def test_plain_grey_pixels_read_a_pillow_saved_png():
    image = Image.frombytes("L", (SIDE, SIDE), pixels(5))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    assert plain_grey_pixels(buffer.getvalue(), SIDE) == pixels(5)


def test_plain_grey_pixels_join_split_image_data():
    stream = zlib.compress(filtered(pixels(), 0))
    data = png(stream[:10], after=[chunk(b"IDAT", stream[10:])])
    assert plain_grey_pixels(data, SIDE) == pillow(data) == pixels()


def test_plain_grey_pixels_take_bytearray():
    assert plain_grey_pixels(bytearray(png()), SIDE) == pixels()


@pytest.mark.parametrize(
    "header",
    [
        (SIDE, SIDE, 8, 2, 0, 0, 0),  # RGB
        (SIDE, SIDE, 16, 0, 0, 0, 0),  # 16-bit grey
        (SIDE, SIDE, 8, 0, 0, 0, 1),  # interlaced
        (SIDE + 1, SIDE, 8, 0, 0, 0, 0),  # another size
    ],
)
def test_plain_grey_pixels_leave_other_layouts_to_pillow(header):
    assert plain_grey_pixels(png(header=header), SIDE) is None


@pytest.mark.parametrize("extra", [b"tRNS", b"tEXt", b"eXIf", b"gAMA"])
def test_plain_grey_pixels_leave_files_with_other_chunks_to_pillow(extra):
    assert plain_grey_pixels(png(before=[chunk(extra, b"\x00\x00\x00\x01")]), SIDE) is None


def test_plain_grey_pixels_leave_a_damaged_chunk_to_pillow():
    data = png(after=[chunk(b"IDAT", b"", crc=0)])
    assert plain_grey_pixels(data, SIDE) is None


def test_plain_grey_pixels_leave_a_file_without_its_end_to_pillow():
    data = png()
    assert plain_grey_pixels(data[: -len(chunk(b"IEND", b""))], SIDE) is None


def test_plain_grey_pixels_leave_a_chunk_longer_than_the_file_to_pillow():
    data = png()
    assert plain_grey_pixels(data[:-1], SIDE) is None


def test_plain_grey_pixels_leave_a_broken_stream_to_pillow():
    assert plain_grey_pixels(png(b"not zlib at all"), SIDE) is None


def test_plain_grey_pixels_leave_a_cut_stream_to_pillow():
    data = png(zlib.compress(filtered(pixels(), 0))[:-6])
    assert plain_grey_pixels(data, SIDE) is None
    with pytest.raises(OSError, match="truncated"):
        pillow(data)


def test_plain_grey_pixels_read_a_stream_of_too_few_rows_as_pillow_does():
    data = png(zlib.compress(filtered(pixels(), 0)[: -(SIDE + 1)]))  # complete, one row short
    assert plain_grey_pixels(data, SIDE) == pillow(data) == pixels()[:-SIDE] + bytes(SIDE)


def test_plain_grey_pixels_leave_many_chunks_to_pillow():
    stream = zlib.compress(filtered(pixels(), 0))
    data = png(stream[:1], after=[chunk(b"IDAT", stream[i : i + 1]) for i in range(1, len(stream))])
    assert plain_grey_pixels(data, SIDE) is None


def test_plain_grey_pixels_leave_large_files_to_pillow():
    data = png() + bytes(MOST_BYTES)  # bytes after the end, which Pillow ignores too
    assert plain_grey_pixels(png() + bytes(100), SIDE) == pixels()
    assert plain_grey_pixels(data, SIDE) is None


def test_plain_grey_pixels_ignore_other_files():
    assert plain_grey_pixels(b"GIF89a" + bytes(100), SIDE) is None
