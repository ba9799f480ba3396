"""An inference request's JSON, judged from its bytes before it is parsed: no larger than a full batch.

Parsing costs per value and per array, not per byte: a megabyte of ``[1, 2]`` rows (130,000 of them,
declared as one batch) took a second to parse and validate on the event loop, a megabyte of empty
arrays as long, and a full legal batch of 64 images 5 ms. So a large body is refused with 413, from a
few byte counts, when it declares a batch over SERVE_MAX_BATCH_SIZE, or holds more commas or more
arrays and objects than the model's full batch needs (nested as deep as its input allows). What is accepted
parses in bounded time.

The protocol's ``parameters`` hold strings, numbers and booleans only, and no JSON string holds an
unescaped quote, so in a valid body ``"shape": [`` can only open a tensor's shape.
"""

from __future__ import annotations

import math
import re

from app.core.errors import check_batch_size
from app.core.servables import ANY, TensorSpec
from app.errors import PayloadTooLargeError

# Below this size a body parses in well under a millisecond: not worth judging (see heavy_work.py).
JUDGED_BODY_BYTES = 64 * 1024
# What the request's own structure adds: its objects, the shape and outputs lists, ids and names.
_SLACK = 64
_DECLARED_BATCH = re.compile(rb'"shape"\s*:\s*\[\s*(\d{1,12})')


def refuse_oversized(body: bytes, spec: TensorSpec, model: str, max_batch_size: int) -> None:
    """Raise PayloadTooLargeError unless ``body`` could be a batch of ``spec`` within ``max_batch_size``."""
    if len(body) < JUDGED_BODY_BYTES:
        return
    for declared in _DECLARED_BATCH.finditer(body):
        check_batch_size(int(declared[1]), max_batch_size)  # the message of a batch refused after parsing
    values = max(math.prod(d for d in shape if d != ANY) for shape in spec.shapes)
    arrays = max(_arrays_per_instance(shape) for shape in spec.shapes)
    most_commas, most_containers = max_batch_size * values + _SLACK, max_batch_size * arrays + _SLACK
    commas, containers = body.count(b","), body.count(b"[") + body.count(b"{")
    if commas > most_commas or containers > most_containers:
        raise PayloadTooLargeError(
            f"request body holds {commas} commas and {containers} arrays and objects; a full batch of "
            f"{max_batch_size} for model {model!r} needs at most {most_commas} and {most_containers}"
        )


def _arrays_per_instance(shape: tuple[int, ...]) -> int:
    """JSON arrays in one instance nested as ``shape`` (batch first): 29 for 28 rows of 28."""
    dims = [d for d in shape if d != ANY]
    return sum(math.prod(dims[:depth]) for depth in range(len(dims)))
