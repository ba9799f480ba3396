"""The commonest digit upload, a small 8-bit grey PNG and nothing else, decoded without Pillow's file layers.

Pillow reads a PNG through Python layers written for every kind of file: opening it (format probing,
the chunk reader) and loading it (tiles, decoder set-up, the chunks after the image) cost about 180 k
instructions for a 28x28 digit, a fifth of the whole request's, around a decode of a few thousand.
A file whose chunks are only IHDR, IDAT and IEND, each with a correct CRC, grey at 8 bits and not
interlaced, holds nothing else to read: ``plain_grey_pixels`` finds its compressed pixel rows and hands
them to Pillow's own PNG row decoder (``Image.frombytes`` with its "zip" decoder, the one that
``Image.open`` would use), so the pixels are Pillow's, bit for bit.

Any other file, or anything unexpected in this one (another chunk, a bad CRC, a broken stream), is
left to the full Pillow path, which reads or refuses it as before: this path never refuses a file.
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK_HEAD = struct.Struct(">I4s")  # length, type
_IHDR = struct.Struct(">IIBBBBB")  # width, height, bit depth, colour type, compression, filter, interlace
_PLAIN_GREY = (8, 0, 0, 0, 0)  # 8 bits, grey, deflate, adaptive filtering, not interlaced
# A file this small holds a plain image of up to 64x64 pixels even uncompressed; with a few chunks the
# walk stays a handful of steps, whatever a client sends.
MOST_BYTES = 8 * 1024
MOST_CHUNKS = 8


def plain_grey_pixels(data: bytes | bytearray, side: int) -> bytes | None:
    """The 8-bit pixels of a plain grey ``side`` x ``side`` PNG, row by row; None for any other file."""
    rows = _compressed_rows(data, side)
    if rows is None:
        return None
    try:
        return Image.frombytes("L", (side, side), rows, "zip", "L").tobytes()
    except (ValueError, OSError):  # not enough data, or a bad stream: Pillow's own path words the error
        return None


def _compressed_rows(data: bytes | bytearray, side: int) -> bytes | None:
    """The IDAT data of a plain grey ``side`` x ``side`` PNG, or None for any other file."""
    if len(data) > MOST_BYTES or not data.startswith(_SIGNATURE):
        return None
    data = bytes(data)
    position, rows = len(_SIGNATURE), []
    for index in range(MOST_CHUNKS):
        if position + 12 > len(data):
            return None  # cut short
        length, kind = _CHUNK_HEAD.unpack_from(data, position)
        body_end = position + 8 + length
        chunk = data[position + 4 : body_end]  # its type and body, what its CRC covers
        if body_end + 4 > len(data) or zlib.crc32(chunk) != int.from_bytes(data[body_end : body_end + 4]):
            return None  # cut short, or damaged
        if index == 0:
            if (
                kind != b"IHDR"
                or length != _IHDR.size
                or _IHDR.unpack_from(chunk, 4) != (side, side, *_PLAIN_GREY)
            ):
                return None
        elif kind == b"IDAT":
            rows.append(chunk[4:])
        elif kind == b"IEND":
            return b"".join(rows) or None
        else:
            return None  # any other chunk may change what Pillow reads: text, transparency, EXIF...
        position = body_end + 4
    return None
