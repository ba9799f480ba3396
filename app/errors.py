"""Every error a client can cause, and the one place where errors become HTTP responses.

Bodies keep FastAPI's ``{"detail": ...}`` shape. Nothing unexpected leaks: a bug becomes a logged 500
whose body carries neither a traceback nor any of the client's input.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.core.errors import (
    ConflictError,
    ErrorKind,
    ForbiddenError,
    InvalidContentError,
    MalformedRequestError,
    ModelUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
    ServingError,
    UnknownModelError,
    UnknownVersionError,
    UnsupportedMediaTypeError,
    check_batch_size,
)
from models import CheckpointError, InvalidInputError

# The error classes live in the protocol-neutral core; the API layer names them as it always has.
ClientError = ServingError
__all__ = [
    "ClientError",
    "ConflictError",
    "ForbiddenError",
    "InvalidContentError",
    "MalformedRequestError",
    "ModelUnavailableError",
    "NotFoundError",
    "PayloadTooLargeError",
    "UnknownModelError",
    "UnknownVersionError",
    "UnsupportedMediaTypeError",
    "check_batch_size",
    "status_code_for",
]

# The one map from error kinds to HTTP statuses, for /predict's {"detail": ...} and OIP's {"error": ...}.
HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID_INPUT: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorKind.MALFORMED: status.HTTP_400_BAD_REQUEST,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorKind.TOO_LARGE: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorKind.UNSUPPORTED: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ErrorKind.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
}
# The protocol has no 422: content a model cannot use is a 400 Bad Request there.
OIP_STATUS: dict[ErrorKind, int] = {**HTTP_STATUS, ErrorKind.INVALID_INPUT: status.HTTP_400_BAD_REQUEST}

# Errors raised by models/ (pure torch, no kinds of their own) and the kind each one is.
_KIND_OF: dict[type[Exception], ErrorKind] = {
    InvalidInputError: ErrorKind.INVALID_INPUT,
    CheckpointError: ErrorKind.INVALID_INPUT,
}


def error_kind(exc: Exception) -> ErrorKind | None:
    """The kind of an error a client can cause; None for anything else (a bug)."""
    if isinstance(exc, ServingError):
        return exc.kind
    return next((kind for cls, kind in _KIND_OF.items() if isinstance(exc, cls)), None)


def status_code_for(exc: Exception, statuses: dict[ErrorKind, int] = HTTP_STATUS) -> int | None:
    """The HTTP status of an error a client can cause (OIP's with ``OIP_STATUS``); None for a bug."""
    kind = error_kind(exc)
    return statuses[kind] if kind is not None else None


# A JSON body that never reached validation, worded one way whether FastAPI or app/api/json_body.py read it.
def empty_json_body() -> MalformedRequestError:
    return MalformedRequestError("request body is empty; send a JSON object")


def invalid_json_body(reason: str) -> MalformedRequestError:
    return MalformedRequestError(f"request body is not valid JSON: {reason}")


def not_a_json_body(content_type: str | None) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"expected a JSON body with content type application/json, got {content_type or 'none'}"
    )


def _detail(status_code: int, detail: object) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code)


async def _known_error(_: Request, exc: Exception) -> JSONResponse:
    return _detail(status_code_for(exc), str(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if unreadable := _unreadable_body(request, exc, errors):
        return _detail(status_code_for(unreadable), unreadable.detail)
    # FastAPI's list of problems, minus the echoed input: a 784-pixel body should not come back at the client.
    problems = [{"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in errors]
    return _detail(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)


def _unreadable_body(request: Request, exc: RequestValidationError, errors: list) -> ClientError | None:
    """A JSON body that never reached validation: not JSON, not sent as JSON, or not sent at all."""
    first = errors[0] if len(errors) == 1 else {}
    if first.get("type") == "json_invalid":
        return invalid_json_body(f"{first['ctx']['error']} (at character {first['loc'][-1]})")
    if tuple(first.get("loc", ())) != ("body",):
        return None
    if first["type"] == "missing":
        return empty_json_body()
    if isinstance(exc.body, bytes):  # FastAPI hands over raw bytes when the content type is not JSON
        return not_a_json_body(request.headers.get("content-type"))
    return None


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for cls in (ServingError, *_KIND_OF):
        app.add_exception_handler(cls, _known_error)
    # Anything else is a bug: ObservabilityMiddleware answers it with a logged 500 (see there why not here).
