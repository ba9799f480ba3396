"""A response for a pydantic model the route has just built, serialised by pydantic-core in one step."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ModelResponse(JSONResponse):
    """``ModelResponse(LogisticResponse(...))``: the model as JSON.

    Returned directly, it skips FastAPI's response_model step, which would validate the model a second time
    and serialise it through a slower path. The route keeps its ``response_model`` for the OpenAPI
    document; constructing the model has validated it already.
    """

    def render(self, content: BaseModel) -> bytes:
        # exclude_none: the optional parts of a prediction (include=...) appear only when asked for.
        # The serializer's own bytes: model_dump_json would decode them to a str, and render encode it back.
        return content.__pydantic_serializer__.to_json(content, exclude_none=True)
