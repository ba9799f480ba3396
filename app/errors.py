"""Every error a client can cause, and the one place where errors become HTTP responses.

Bodies keep FastAPI's ``{"detail": ...}`` shape. Nothing unexpected leaks: a bug becomes a logged 500
whose body carries neither a traceback nor any of the client's input.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.registry import ModelUnavailableError, UnknownModelError
from models import CheckpointError, InvalidInputError


class ClientError(Exception):
    """A request the service refuses; ``status_code`` says why in HTTP terms."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidContentError(ClientError):
    """Well-formed HTTP whose content cannot be used: not an image, wrong size, truncated."""


class MalformedRequestError(ClientError):
    """The request itself is broken: no multipart boundary, not JSON, a missing part."""

    status_code = status.HTTP_400_BAD_REQUEST


class ForbiddenError(ClientError):
    """A request the service understands but will not carry out, such as a path outside its folder."""

    status_code = status.HTTP_403_FORBIDDEN


class NotFoundError(ClientError):
    """Something the request names that does not exist here, such as a model version."""

    status_code = status.HTTP_404_NOT_FOUND


class PayloadTooLargeError(ClientError):
    status_code = status.HTTP_413_CONTENT_TOO_LARGE


class UnsupportedMediaTypeError(ClientError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


# A JSON body that never reached validation, worded one way whether FastAPI or app/api/json_body.py read it.
def empty_json_body() -> MalformedRequestError:
    return MalformedRequestError("request body is empty; send a JSON object")


def invalid_json_body(reason: str) -> MalformedRequestError:
    return MalformedRequestError(f"request body is not valid JSON: {reason}")


def not_a_json_body(content_type: str | None) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"expected a JSON body with content type application/json, got {content_type or 'none'}"
    )


def check_batch_size(count: int, limit: int) -> None:
    """Every API's batch limit (SERVE_MAX_BATCH_SIZE), refused with one message."""
    if count > limit:
        raise PayloadTooLargeError(f"batch of {count} instances exceeds the limit of {limit}")


# Errors raised below the HTTP layer, by models/ and the registry, and the status each one means.
_STATUS_OF: dict[type[Exception], int] = {
    InvalidInputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    UnknownModelError: status.HTTP_404_NOT_FOUND,
    ModelUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
    CheckpointError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def status_code_for(exc: Exception) -> int | None:
    """The HTTP status of an error a client can cause; None for anything else (a bug)."""
    if isinstance(exc, ClientError):
        return exc.status_code
    return next((code for cls, code in _STATUS_OF.items() if isinstance(exc, cls)), None)


def _detail(status_code: int, detail: object) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code)


async def _client_error(_: Request, exc: ClientError) -> JSONResponse:
    return _detail(exc.status_code, exc.detail)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    return _detail(status_code_for(exc), str(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if unreadable := _unreadable_body(request, exc, errors):
        return _detail(unreadable.status_code, unreadable.detail)
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
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for cls in _STATUS_OF:
        app.add_exception_handler(cls, _domain_error)
    # Anything else is a bug: ObservabilityMiddleware answers it with a logged 500 (see there why not here).
