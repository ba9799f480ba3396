"""The one place where errors become gRPC status codes; messages are the same as REST's."""

from __future__ import annotations

import grpc

from app.core.errors import ErrorKind
from app.errors import error_kind

CODE: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID_INPUT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    # REST answers 413 for a batch over the limit and for a body over it; gRPC answers a message over its
    # limit RESOURCE_EXHAUSTED by itself, so the batch limit gets the same.
    ErrorKind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.UNSUPPORTED: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
}


def code_for(exc: Exception) -> grpc.StatusCode | None:
    """The status of an error a client can cause; None for anything else (a bug)."""
    kind = error_kind(exc)
    return None if kind is None else CODE[kind]
