"""JSON request bodies that a route reads itself: pydantic-core parses and validates the bytes in one pass.

Given a pydantic body parameter, FastAPI parses the content type with ``email.message``, turns the bytes
into Python objects with ``json.loads``, then validates those objects. On /predict/logistic that was 8 %
of a request's instructions in the app. ``read_json`` does the same job with one ``model_validate_json``
and answers with the same errors: 400 for an empty or malformed body, 415 for another content type, and
FastAPI's 422 list, located under ``body``. ``json_body_doc`` describes the body in OpenAPI, since FastAPI
no longer sees it.

The parse runs on the event loop: pydantic-core holds the GIL throughout, so a thread would not let
other requests run meanwhile. What keeps it short is the JSON body limit (1 MiB by default, see
body_limit.py), ``least_instances``, which refuses a batch that cannot fit before it is parsed, the
count of values (commas) a full batch can hold, and the schemas' fail-fast lists, which stop at the first
invalid value instead of listing thousands; large bodies take turns (heavy_work.py).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from app.api.heavy_work import turn_for
from app.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    empty_json_body,
    invalid_json_body,
    not_a_json_body,
)
from app.observability.body_limit import BodyTooLargeError
from app.request_headers import header

Model = TypeVar("Model", bound=BaseModel)

# Values in one instance, at most: an image's 784 pixels fit, and a logistic model's features. Parsing
# costs per value, so a body is refused unparsed when it holds more than a full batch of them.
MOST_VALUES_PER_INSTANCE = 1024


async def read_json(request: Request, model: type[Model]) -> Model:
    """The body as a validated ``model``; otherwise a ClientError or a RequestValidationError.

    A ``model`` with ``least_instances(body)`` has a batch that must fit the app's SERVE_MAX_BATCH_SIZE.
    """
    try:
        body = await request.body()
    except (ClientDisconnect, BodyTooLargeError):  # over the limit, the middleware answers 413 instead
        raise MalformedRequestError("the request body ended before it was complete") from None
    if not body:
        raise empty_json_body()
    content_type = header(request, b"content-type")
    if not _is_json_media_type(content_type):
        raise not_a_json_body(content_type)
    limit = request.app.state.settings.max_batch_size
    # Each instance takes a byte of punctuation at least: a body of no more bytes than the limit fits.
    if len(body) > limit and (least_instances := getattr(model, "least_instances", None)) is not None:
        if (count := least_instances(body)) > limit:
            raise PayloadTooLargeError(f"batch of at least {count} instances exceeds the limit of {limit}")
        most = limit * MOST_VALUES_PER_INSTANCE
        if len(body) > most and (commas := body.count(b",")) >= most:  # fewer bytes, fewer commas
            raise PayloadTooLargeError(
                f"request body holds {commas} commas; a batch of {limit} instances holds at most "
                f"{most} values ({MOST_VALUES_PER_INSTANCE} each)"
            )
    try:
        async with turn_for(request, len(body)):
            return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if errors[0]["type"] == "json_invalid":
        raise invalid_json_body(errors[0]["ctx"]["error"])
    raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors])


def _is_json_media_type(content_type: str | None) -> bool:
    """application/json or application/...+json, whatever the parameters or case: what FastAPI accepts."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def json_body_doc(model: type[BaseModel], examples: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a ``model`` body with ``read_json``; examples by name."""
    named = {name: {"value": value} for name, value in examples.items()}
    content = {"schema": model.model_json_schema(), "examples": named}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}
