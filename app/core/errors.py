"""Every error the core raises for a caller to see, each with the kind of failure it is.

A front end maps kinds to its own codes in one place: REST and OIP in app/errors.py (``status_code_for``),
gRPC in its own module. The message is always safe to show a client: it names the problem, never echoes
a request body.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar


class ErrorKind(str, Enum):
    INVALID_INPUT = "invalid_input"  # content the model cannot take (HTTP 422; OIP 400)
    MALFORMED = "malformed"  # the request itself is broken: not JSON, no multipart boundary (400)
    NOT_FOUND = "not_found"  # no such model or version (404)
    UNAVAILABLE = "unavailable"  # exists, but is not serving now: loading, failed, unloaded (503)
    TOO_LARGE = "too_large"  # more instances, bytes or pixels than allowed (413)
    UNSUPPORTED = "unsupported"  # a media type or format the service does not read (415)
    FORBIDDEN = "forbidden"  # understood, and refused: a path outside the repository (403)
    CONFLICT = "conflict"  # the request contradicts the repository's state (409)


class ServingError(Exception):
    """An error a client caused or may see; ``kind`` says which, ``detail`` says what."""

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID_INPUT

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidContentError(ServingError):
    """Well-formed input whose content cannot be used: not an image, wrong size, wrong tensor."""


class MalformedRequestError(ServingError):
    kind = ErrorKind.MALFORMED


class NotFoundError(ServingError):
    kind = ErrorKind.NOT_FOUND


class UnknownModelError(NotFoundError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown model {name!r}; available: {', '.join(known) or 'none'}")


class UnknownVersionError(NotFoundError):
    def __init__(self, name: str, version: object, known: list[str]) -> None:
        super().__init__(
            f"model {name!r} has no version {str(version)!r} serving; serving: {', '.join(known) or 'none'}"
        )


class ModelUnavailableError(ServingError):
    """A model or version that exists but does not serve now; the message says why."""

    kind = ErrorKind.UNAVAILABLE


class PayloadTooLargeError(ServingError):
    kind = ErrorKind.TOO_LARGE


class UnsupportedMediaTypeError(ServingError):
    kind = ErrorKind.UNSUPPORTED


class ForbiddenError(ServingError):
    kind = ErrorKind.FORBIDDEN


class ConflictError(ServingError):
    kind = ErrorKind.CONFLICT


def check_batch_size(count: int, limit: int) -> None:
    """Every front end's batch limit (SERVE_MAX_BATCH_SIZE), refused with one message."""
    if count > limit:
        raise PayloadTooLargeError(f"batch of {count} instances exceeds the limit of {limit}")
