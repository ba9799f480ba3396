"""Bit-identity of probabilities across servers, and the real MNIST digits they are checked on.

Pure Python (no torch): the benchmark checks every peer against ours before timing it.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path


def float32_bits(values: Sequence[float]) -> tuple[int, ...]:
    """Each value rounded to float32, as its 32 bits.

    The models compute in float32; a JSON answer carries each float32 as a decimal that reads back to it
    (ours prints the exact double, others the shortest float32 repr), so two answers agree bit for bit
    exactly when their float32 bits do.
    """
    return struct.unpack(f"<{len(values)}I", struct.pack(f"<{len(values)}f", *values))


def differences(ours: Sequence[float], theirs: Sequence[float]) -> list[str]:
    """What tells ``theirs`` apart from ``ours``, bit for bit; empty when they are identical."""
    if len(ours) != len(theirs):
        return [f"{len(theirs)} values where ours has {len(ours)}"]
    return [
        f"[{index}]: {b!r} is not ours {a!r}"
        for index, (a, b, a_bits, b_bits) in enumerate(
            zip(ours, theirs, float32_bits(ours), float32_bits(theirs), strict=True)
        )
        if a_bits != b_bits
    ]


def read_idx_images(path: Path, count: int | None = None) -> Iterator[bytes]:
    """The images of an MNIST idx3 file (or its .gz), each as rows x columns bytes of 0..255 pixels."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        header = f.read(16)
        if len(header) < 16 or header[:4] != b"\x00\x00\x08\x03":
            raise ValueError(f"{path}: not an idx3 image file (it starts {header[:4].hex()})")
        _, total, rows, columns = struct.unpack(">IIII", header)
        for _ in range(total if count is None else min(count, total)):
            yield f.read(rows * columns)
