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
        examples=["batch of 65 instances exceeds the limit of 64"],
    )


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict]:
    """FastAPI ``responses=`` for error statuses, each with its description and the error body."""
    return {code: {"model": ErrorResponse, "description": text} for code, text in descriptions.items()}
