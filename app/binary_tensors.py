"""Tensor data in the Open Inference Protocol: JSON values, and the binary tensor data extension.

With the extension, a body is a JSON header of ``Inference-Header-Content-Length`` bytes followed by
the raw little-endian bytes of each binary tensor, in the order the header lists them; each such tensor
carries ``parameters.binary_data_size`` instead of ``data``. Responses use the same layout.
"""

from __future__ import annotations

import json
import math
import sys
from array import array
from dataclasses import dataclass

import torch
from fastapi import Request, Response
from pydantic_core import from_json

from app.errors import InvalidContentError, MalformedRequestError

HEADER_LENGTH = "Inference-Header-Content-Length"
_SCOPE_KEY = "binary_tensor_data"  # where the bytes after the JSON header wait for the route
_BOOLEANS_KEY = "json_header_has_booleans"  # whether the JSON header has a true or a false anywhere


@dataclass(frozen=True)
class Datatype:
    name: str
    torch_dtype: torch.dtype
    array_code: str  # the Python array module's typecode of one element

    @property
    def itemsize(self) -> int:
        return self.torch_dtype.itemsize

    @property
    def is_integer(self) -> bool:
        return not self.torch_dtype.is_floating_point


DATATYPES = {
    d.name: d
    for d in (
        Datatype("UINT8", torch.uint8, "B"),
        Datatype("INT8", torch.int8, "b"),
        Datatype("INT16", torch.int16, "h"),
        Datatype("INT32", torch.int32, "i"),
        Datatype("INT64", torch.int64, "q"),
        Datatype("FP32", torch.float32, "f"),
        Datatype("FP64", torch.float64, "d"),
    )
}


class _JsonHeaderRequest(Request):
    """A request whose body, as FastAPI reads it, is only the JSON header."""

    def __init__(self, scope: dict, header: bytes) -> None:
        super().__init__(scope)
        self._header = header

    async def body(self) -> bytes:
        return self._header

    async def json(self) -> object:
        # pydantic-core's parser: ten times json's speed on tensor data (5 ms for a full batch of images,
        # 57 with json.loads). Its errors, deep nesting included, reach FastAPI as JSON errors.
        try:
            return from_json(self._header)
        except ValueError as exc:
            raise json.JSONDecodeError(str(exc), "", 0) from None


async def with_json_header(request: Request) -> Request:
    """Let FastAPI parse and validate the JSON header of a body like any JSON body.

    The protocol's bodies are JSON whatever their Content-Type says (clients send none, or
    application/octet-stream with binary tensors). The tensor bytes after the header are kept for
    ``binary_data``.
    """
    if request.method != "POST":
        return request
    header, tail = split_body(await request.body(), request.headers.get(HEADER_LENGTH))
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequestError(
            f"request body is not valid UTF-8 JSON: {exc.reason} at byte {exc.start}"
        ) from None
    headers = [(k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")]
    headers.append((b"content-type", b"application/json"))
    # A boolean in tensor data would pass as 1 or 0; looking for one costs a walk over the data, needed
    # only when the header has the word at all (a byte search, microseconds).
    booleans = b"true" in header or b"false" in header
    scope = {**request.scope, "headers": headers, _SCOPE_KEY: tail, _BOOLEANS_KEY: booleans}
    return _JsonHeaderRequest(scope, header)


def binary_data(request: Request) -> bytes:
    """The bytes that followed the JSON header; empty for a plain JSON request."""
    return request.scope.get(_SCOPE_KEY, b"")


def may_hold_booleans(request: Request) -> bool:
    return request.scope.get(_BOOLEANS_KEY, True)


def encode_response(header: bytes, binary_outputs: list[bytes]) -> Response:
    if not binary_outputs:
        return Response(header, media_type="application/json")
    return Response(
        header + b"".join(binary_outputs),
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(header))},
    )


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """A request body -> (its JSON header, the binary tensor bytes after it)."""
    if header_length is None:
        return body, b""
    # isascii: str.isdigit() also passes digits that int() refuses, such as "²" (a latin-1 header byte).
    if not (header_length.isascii() and header_length.isdigit()) or int(header_length) > len(body):
        raise MalformedRequestError(
            f"{HEADER_LENGTH} must be a byte count within the body's {len(body)} bytes, got {header_length!r}"
        )
    return body[: int(header_length)], body[int(header_length) :]


def tensor_from_json(
    name: str, datatype: Datatype, shape: list[int], data: list, *, may_hold_booleans: bool = True
) -> torch.Tensor:
    """JSON ``data``, flat or nested as ``shape``, -> a tensor of ``datatype`` and ``shape``.

    Strict: numbers only. torch would read ``true`` as 1 and ``"2"`` as an error; both are refused alike.
    """
    if may_hold_booleans and _holds_booleans(data):
        raise InvalidContentError(f"input {name!r}: data must be numbers, not true or false")
    try:
        values = torch.tensor(data, dtype=torch.float64)
    except (TypeError, ValueError):
        raise InvalidContentError(
            f"input {name!r}: data must be numbers, flat or nested in equal rows"
        ) from None
    except OverflowError:  # a JSON integer with hundreds of digits
        raise _out_of_range(name, datatype) from None
    if values.dim() > 1 and list(values.shape) != shape:
        raise InvalidContentError(f"input {name!r}: data nested as {list(values.shape)}, shape is {shape}")
    _check_count(name, shape, values.numel())
    typed = values.to(datatype.torch_dtype)
    if datatype.is_integer:
        info = torch.iinfo(datatype.torch_dtype)
        in_range = (values == values.round()) & (values >= info.min) & (values <= info.max)
        if not bool(in_range.all()):
            raise InvalidContentError(
                f"input {name!r}: {datatype.name} values must be integers in {info.min}..{info.max}"
            )
    # A value finite as FP64 but past FP32's range would otherwise become infinity without a word.
    elif not bool((torch.isfinite(typed) | ~torch.isfinite(values)).all()):
        raise _out_of_range(name, datatype)
    return typed.reshape(shape)


def _holds_booleans(data: list) -> bool:
    types = set(map(type, data))
    return bool in types or (list in types and any(_holds_booleans(v) for v in data if type(v) is list))


def _out_of_range(name: str, datatype: Datatype) -> InvalidContentError:
    return InvalidContentError(f"input {name!r}: data holds a number beyond the range of {datatype.name}")


def tensor_from_bytes(name: str, datatype: Datatype, shape: list[int], raw: bytes) -> torch.Tensor:
    """Little-endian element bytes -> a tensor of ``datatype`` and ``shape``."""
    if len(raw) % datatype.itemsize:
        raise InvalidContentError(
            f"input {name!r}: {len(raw)} bytes is not a whole number of {datatype.name} values"
        )
    _check_count(name, shape, len(raw) // datatype.itemsize)
    if not raw:  # frombuffer refuses an empty buffer
        return torch.empty(shape, dtype=datatype.torch_dtype)
    values = array(datatype.array_code, raw)
    if sys.byteorder == "big":
        values.byteswap()
    return torch.frombuffer(values, dtype=datatype.torch_dtype).reshape(shape)


def to_bytes(datatype: Datatype, flat_values: list) -> bytes:
    values = array(datatype.array_code, flat_values)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _check_count(name: str, shape: list[int], count: int) -> None:
    if count != math.prod(shape):
        raise InvalidContentError(
            f"input {name!r}: shape {shape} holds {math.prod(shape)} values, data has {count}"
        )
