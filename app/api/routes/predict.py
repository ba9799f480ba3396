"""Predictions: JSON features for the logistic model, image files or pixel arrays for the digit model."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated

import torch
from fastapi import FastAPI, Query, Request, params

from app.api.explain import (
    DigitInclude,
    digit_explanations,
    digit_input,
    logistic_explanations,
)
from app.api.json_body import json_body_doc, read_json
from app.api.responses import ModelResponse
from app.core.dataplane import DataPlane
from app.core.servables import DigitServable, Servable
from app.errors import InvalidContentError, NotFoundError, check_batch_size
from app.imaging import SUPPORTED_FORMATS, FitMode, InvertMode, read_digits
from app.schemas.errors import error_responses
from app.schemas.examples import (
    LOGISTIC_BATCH,
    LOGISTIC_NAMED,
    LOGISTIC_NAMED_BATCH,
    LOGISTIC_SINGLE,
    PIXELS_BATCH,
    PIXELS_SINGLE,
)
from app.schemas.predict import (
    DigitPrediction,
    DigitResponse,
    LogisticPrediction,
    LogisticRequest,
    LogisticResponse,
    ModelRef,
    PixelsRequest,
)
from app.uploads import RAW_IMAGE_TYPES, read_images

_ERRORS = error_responses(
    {
        400: "A body that cannot be parsed: not UTF-8 JSON, or a broken multipart body.",
        404: "No model of that name, or no such version serving.",
        413: "More instances or files than allowed, a file over the size limit, or too large a body.",
        422: "Input the model cannot take; `detail` says what and where.",
        503: "The model (or that version) is not serving: loading, failed or unloaded.",
    }
)
_UPLOAD_ERRORS = {
    **_ERRORS,
    **error_responses(
        {
            400: "A broken multipart body, or a part that is not an image file named `file`.",
            413: "More files than allowed, a file or all files over their size limit, or an image over the "
            "pixel limit (refused before decoding).",
            415: "Not a supported image format, or neither a multipart body nor an image body.",
            422: "A file that cannot be used: not an image, truncated, no digit in it, or not 28x28 with "
            "fit=never.",
        },
        {
            400: "form field 'file' is a value, not a file: it has no filename in its Content-Disposition; "
            "upload the image as a file (curl: -F file=@digit.png)",
            413: "file 'photo.jpg' is larger than the upload limit of 10485760 bytes",
            422: "image 'blank.png' shows no digit: nothing in it stands out from its background",
        },
    ),
}
_UPLOAD_DESCRIPTION = (
    "Send one or more image files as multipart parts named `file`, or one image as the whole body with "
    "its own content type (`curl --data-binary @digit.png -H 'Content-Type: image/png'`), under the same "
    "limits. Accepted: "
    f"{', '.join(SUPPORTED_FORMATS)} (GIF: first frame), grayscale, RGB or RGBA (transparency is "
    "composited onto white). MNIST digits are white on black; `invert=auto` flips dark-on-light "
    "images, judging by their border."
)
# One image as the body: the content types app/uploads.py reads that way, each a binary string.
_RAW_IMAGE_CONTENT = {
    media_type: {"schema": {"type": "string", "format": "binary", "contentMediaType": media_type}}
    for media_type in RAW_IMAGE_TYPES
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "title": "DigitUpload",
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            # Both spellings of "a file": OpenAPI 3.1's and the one older tools read.
                            "items": {
                                "type": "string",
                                "format": "binary",
                                "contentMediaType": "application/octet-stream",
                            },
                            "description": f"One or more 28x28 images ({', '.join(SUPPORTED_FORMATS)}).",
                        }
                    },
                }
            },
            **_RAW_IMAGE_CONTENT,
        },
    }
}


def _model_ref(servable: Servable) -> ModelRef:
    return _cached_model_ref(servable.name, servable.version, servable.architecture)


@lru_cache(maxsize=256)  # one per served version: built once, not per request (read-only once built)
def _cached_model_ref(name: str, version: str, architecture: str) -> ModelRef:
    return ModelRef(name=name, version=version, architecture=architecture)


def _includes(request: Request, allowed: tuple[str, ...]) -> list[str]:
    """``?include=`` (repeated) read by hand, like ``version``: each value must be one of ``allowed``."""
    if not request.scope["query_string"]:
        return []
    values = request.query_params.getlist("include")
    for value in values:
        if value not in allowed:
            raise InvalidContentError(f"include={value!r} is not one of: {', '.join(allowed)}")
    return values


def _version_of(request: Request) -> str | None:
    """``?version=`` read by hand: a declared query parameter costs every JSON request a FastAPI solve."""
    if not request.scope["query_string"]:
        return None
    return request.query_params.get("version")


async def _features_response(request: Request, dataplane: DataPlane, servable: Servable) -> ModelResponse:
    body = await read_json(request, LogisticRequest)
    rows = body.batch()
    check_batch_size(len(rows), dataplane.max_batch_size)
    explanations = None
    if "explanation" in _includes(request, LOGISTIC_INCLUDES):
        probabilities, labels, explanation = await dataplane.explain(servable, rows)
        values = servable.config.feature_rows(rows)  # named instances as values in the model's order
        explanations = logistic_explanations(explanation, values, servable.config.feature_names)
    else:
        probabilities, labels = await dataplane.predict(servable, rows)
    predictions = [
        LogisticPrediction(label=y, probability=p) for y, p in zip(labels, probabilities, strict=True)
    ]
    if explanations is not None:
        for prediction, explained in zip(predictions, explanations, strict=True):
            prediction.explanation = explained
    return ModelResponse(LogisticResponse(model=_model_ref(servable), predictions=predictions))


async def _images_response(
    request: Request, dataplane: DataPlane, servable: Servable, invert: InvertMode, fit: FitMode
) -> ModelResponse:
    settings = request.app.state.settings
    files = await read_images(
        request,
        field_name="file",
        max_files=settings.max_batch_size,
        max_file_bytes=settings.max_upload_bytes,
        max_total_bytes=settings.max_upload_total_bytes,
    )
    config = servable.config
    pixels = await read_digits(
        [(f.filename, f.data) for f in files],
        size=config.image_size,
        max_pixels=settings.max_image_pixels,
        invert=invert,
        background_is_dark=config.polarity == "white_on_black",
        fit=fit,
    )
    return await _digit_response(request, dataplane, servable, pixels)


async def _pixels_response(request: Request, dataplane: DataPlane, servable: Servable) -> ModelResponse:
    body = await read_json(request, PixelsRequest)
    images = body.batch()
    check_batch_size(len(images), dataplane.max_batch_size)
    side = servable.config.image_size
    pixels = torch.stack([_pixel_tensor(i, image, side) for i, image in enumerate(images)])
    return await _digit_response(request, dataplane, servable, pixels)


async def _digit_response(
    request: Request, dataplane: DataPlane, servable: Servable, pixels: torch.Tensor
) -> ModelResponse:
    include = _includes(request, DIGIT_INCLUDES)
    explanations = None
    if "explanation" in include:  # one exact pass: the explanation needs the model's own logits
        digits, probabilities, explanation = await dataplane.explain(servable, pixels)
        explanations = digit_explanations(explanation)
    else:
        digits, probabilities = await dataplane.predict(servable, pixels)
    predictions = [
        DigitPrediction(digit=d, probabilities=p) for d, p in zip(digits, probabilities, strict=True)
    ]
    for index, prediction in enumerate(predictions):
        if "input" in include:
            prediction.input = digit_input(pixels[index])
        if explanations is not None:
            prediction.explanation = explanations[index]
    return ModelResponse(DigitResponse(model=_model_ref(servable), predictions=predictions))


async def predict_answer(
    request: Request, name: str, version: str | None, invert: InvertMode, fit: FitMode = "auto"
) -> ModelResponse:
    """``name``'s answer; the body it reads follows the architecture of the version that serves."""
    dataplane: DataPlane = request.app.state.dataplane
    servable = dataplane.servable(name, version)
    if servable.architecture == DigitServable.architecture:
        return await _images_response(request, dataplane, servable, invert, fit)
    return await _features_response(request, dataplane, servable)


async def pixels_answer(request: Request, name: str, version: str | None) -> ModelResponse:
    dataplane: DataPlane = request.app.state.dataplane
    servable = dataplane.servable(name, version)
    if servable.architecture != DigitServable.architecture:
        raise NotFoundError(
            f"model {name!r} is a {servable.architecture} model: it takes no pixels; "
            f"send its features to POST /predict/{name}"
        )
    return await _pixels_response(request, dataplane, servable)


NAMED_ROUTES = ("logistic", "mnist")  # the default models' own routes, beside /predict/{name}
DIGIT_INCLUDES: tuple[DigitInclude, ...] = ("input", "explanation")
LOGISTIC_INCLUDES = ("explanation",)
_VERSION_DOC = "The model version to use; left out: the model's default version."
_DIGIT_INCLUDE_DOC = (
    "Add to each prediction: `input`, the 28x28 image the model saw (a base64 PNG and its pixels); "
    "`explanation`, each pixel's exact share of the predicted digit's and the runner-up's logit "
    "(logit = baseline + sum of contributions). Repeat the parameter for both."
)
_LOGISTIC_INCLUDE_DOC = (
    "`explanation`: add each feature's exact share of the logit (logit = bias + sum of contributions)."
)
_INVERT_DOC = (
    "auto: tell dark ink on light paper from light on dark by the image; always: the ink is dark on "
    "light; never: the ink is light on dark."
)
InvertQuery = Annotated[InvertMode, Query(description=_INVERT_DOC)]
FitQuery = Annotated[
    FitMode,
    Query(
        description="auto: an exact 28x28 image is read as it is, any other size is fitted the way MNIST "
        "was made (background and uneven light removed, the ink's box fitted into 20x20, centred by "
        "mass); always: fit every image; never: refuse any other size than 28x28."
    ),
]
IncludeQuery = Annotated[
    list[DigitInclude] | None,
    Query(description=_DIGIT_INCLUDE_DOC),
]
VersionQuery = Annotated[int | None, Query(ge=1, description=_VERSION_DOC)]
# The routes that read ``version`` by hand document it here instead.


def _query_doc(name: str, description: str, schema: dict) -> dict:
    """A query parameter as OpenAPI shows it, for the JSON routes that read theirs by hand (_version_of,
    _includes) rather than declare them: the same names and words as the declared ones above."""
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_VERSION_PARAMETER = _query_doc("version", _VERSION_DOC, {"type": "integer", "minimum": 1})


def _include_parameter(allowed: tuple[str, ...], description: str) -> dict:
    schema = {"type": "array", "items": {"type": "string", "enum": list(allowed)}}
    return _query_doc("include", description, schema)


_LOGISTIC_PARAMETERS = [_VERSION_PARAMETER, _include_parameter(LOGISTIC_INCLUDES, _LOGISTIC_INCLUDE_DOC)]
_DIGIT_INCLUDE_PARAMETER = _include_parameter(DIGIT_INCLUDES, _DIGIT_INCLUDE_DOC)


async def predict_logistic_route(request: Request) -> ModelResponse:
    return await predict_answer(request, "logistic", _version_of(request), "auto")


async def predict_mnist_route(
    request: Request,
    fit: FitQuery = "auto",
    invert: InvertQuery = "auto",
    include: IncludeQuery = None,  # read again by _digit_response; declared here for validation and docs
    version: VersionQuery = None,
) -> ModelResponse:
    return await predict_answer(request, "mnist", None if version is None else str(version), invert, fit)


async def predict_mnist_pixels_route(request: Request) -> ModelResponse:
    return await pixels_answer(request, "mnist", _version_of(request))


async def predict_route(
    request: Request,
    name: str,
    fit: FitQuery = "auto",
    invert: InvertQuery = "auto",
    include: IncludeQuery = None,  # read again where the answer is built; declared for validation and docs
    version: VersionQuery = None,
) -> ModelResponse:
    return await predict_answer(request, name, None if version is None else str(version), invert, fit)


async def predict_pixels_route(request: Request, name: str, version: VersionQuery = None) -> ModelResponse:
    return await pixels_answer(request, name, None if version is None else str(version))


def _pixel_tensor(index: int, image: list, side: int) -> torch.Tensor:
    """One image as 28 rows of 28 or 784 values -> a flat float tensor; anything else names the image."""
    try:
        pixels = torch.tensor(image, dtype=torch.float32)
    except (TypeError, ValueError):  # rows of unequal length, or rows mixed with single values
        pixels = None
    if pixels is None or tuple(pixels.shape) not in ((side, side), (side * side,)):
        got = f"shape {list(pixels.shape)}" if pixels is not None else "a ragged array"
        raise InvalidContentError(
            f"image {index}: expected {side} rows of {side} pixels or {side * side} values, got {got}"
        )
    return pixels.reshape(side * side)


def add_routes(app: FastAPI, dependencies: Sequence[params.Depends]) -> None:
    """The /predict routes, each behind ``dependencies``, as the app's own routes, tried before all others.

    Starlette tries routes in order, and every miss costs a path match. Not an included APIRouter: FastAPI
    matches an included router's routes in a second pass, which cost a small prediction 7 % more
    instructions in the app. First: the docs routes FastAPI adds when the app is built would otherwise be
    tried before every prediction, another 6 %.
    """
    routes = app.router.routes
    existing = len(routes)
    common = {"methods": ["POST"], "tags": ["predict"], "dependencies": dependencies}
    app.add_api_route(
        "/predict/logistic",
        predict_logistic_route,
        **common,
        summary="Classify feature values with the logistic regression",
        description=(
            "Each instance gives the model's features as a list in their order, or as an object by name. "
            "`GET /models/logistic` lists the names in order (`input.feature_names`); a missing, unknown "
            "or misspelt name is a 422 that lists them."
        ),
        response_model=LogisticResponse,
        responses=_ERRORS,
        openapi_extra={
            **json_body_doc(LogisticRequest, _LOGISTIC_EXAMPLES),
            "parameters": _LOGISTIC_PARAMETERS,
        },
    )
    app.add_api_route(
        "/predict/mnist",
        predict_mnist_route,
        **common,
        name="predict_digits",
        summary="Recognise handwritten digits in uploaded 28x28 images",
        description=_UPLOAD_DESCRIPTION,
        response_model=DigitResponse,
        responses=_UPLOAD_ERRORS,
        openapi_extra=_UPLOAD_BODY,
    )
    app.add_api_route(
        "/predict/mnist/pixels",
        predict_mnist_pixels_route,
        **common,
        name="predict_digit_pixels",
        summary="Recognise digits given as raw pixel arrays",
        description="Pixels are 0..255, white digit on black, as 28 rows of 28 or 784 values row by row.",
        response_model=DigitResponse,
        responses=_ERRORS,
        openapi_extra={**_PIXELS_BODY, "parameters": [_VERSION_PARAMETER, _DIGIT_INCLUDE_PARAMETER]},
    )
    app.add_api_route(
        "/predict/{name}/pixels",
        predict_pixels_route,
        **common,
        summary="Recognise digits given as raw pixel arrays, with any digit model in the repository",
        description="As POST /predict/mnist/pixels, for the model `name`; 404 for a model that takes "
        "features.",
        response_model=DigitResponse,
        responses=_ERRORS,
        openapi_extra={**_PIXELS_BODY, "parameters": [_DIGIT_INCLUDE_PARAMETER]},
    )
    app.add_api_route(
        "/predict/{name}",
        predict_route,
        **common,
        summary="Predict with any model in the repository",
        description="The body follows the model's architecture: JSON features (as POST /predict/logistic) "
        "for a logistic regression, multipart image files (as POST /predict/mnist) for a digit model. "
        "The answer names the model and the version that gave it.",
        response_model=LogisticResponse | DigitResponse,
        responses=_UPLOAD_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    **json_body_doc(LogisticRequest, _LOGISTIC_EXAMPLES)["requestBody"]["content"],
                    **_UPLOAD_BODY["requestBody"]["content"],
                },
            }
        },
    )
    routes[:] = routes[existing:] + routes[:existing]


_LOGISTIC_EXAMPLES = {
    "one instance": LOGISTIC_SINGLE,
    "one instance, by feature name": LOGISTIC_NAMED,
    "a batch": LOGISTIC_BATCH,
    "a batch, by feature name": LOGISTIC_NAMED_BATCH,
}
_PIXELS_BODY = json_body_doc(
    PixelsRequest,
    {"one image (28 rows of 28)": PIXELS_SINGLE, "a batch (nested and flat)": PIXELS_BATCH},
)
