"""The one body every error response has, ``{"detail": ...}``, for the routes to declare."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ValidationProblem(BaseModel):
    loc: list[str | int] = Field(description="Where in the request the problem is.", examples=[["body"]])
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: str | list[ValidationProblem] = Field(
        description="What is wrong: a sentence, or one entry per invalid field.",
        examples=["image 'blank.png' shows no digit: nothing in it stands out from its background"],
    )


# A true example per status, each a detail the service really sends; a route may name a closer one.
EXAMPLES: dict[int, str] = {
    400: "request body is not valid JSON: Expecting value (at character 0)",
    401: "missing API key: send Authorization: Bearer <key> or X-API-Key",
    403: "admin endpoints are disabled: set SERVE_API_KEY to enable them",
    404: "unknown model 'mnist2'; available: logistic, mnist",
    413: "batch of at least 65 instances exceeds the limit of 64",
    415: "file 'd.pdf' is in PDF format; supported image formats: PNG, JPEG, BMP, GIF, WEBP",
    422: "instance 0 has 3 features; expected 2 (x1, x2)",
    503: "model 'mnist' is still loading",
}


def error_responses(
    descriptions: dict[int, str], examples: dict[int, str] | None = None
) -> dict[int | str, dict]:
    """FastAPI ``responses=`` for error statuses: each with its description, the error body and a true
    example of it (``examples`` overrides the defaults above for this route)."""
    chosen = {**EXAMPLES, **(examples or {})}
    responses: dict[int | str, dict] = {}
    for code, text in descriptions.items():
        responses[code] = {"model": ErrorResponse, "description": text}
        if code in chosen:  # a status without a known true example shows the schema's own
            responses[code]["content"] = {"application/json": {"example": {"detail": chosen[code]}}}
    return responses
