"""What client generators read in /openapi.json: operation ids and schema names without route noise.

FastAPI's defaults name an operation after its function, path and method
(``predict_logistic_route_predict_logistic_post``), and generators name an inline body schema after
the operation (``PredictLogisticRoutePredictLogisticPostLogisticRequest``). Here an operation is its
function's name in camelCase (``predictLogistic``), and every titled inline object schema of a request
body becomes a named component. Both apply to every route, including ones added later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

_ROUTE_SUFFIX = "_route"  # endpoints named predict_x_route (their model-level twins own predict_x)
_LOCAL_REF = "#/$defs/"
_COMPONENT_REF = "#/components/schemas/"


def operation_id(route: APIRoute) -> str:
    """``predict_logistic_route`` -> ``predictLogistic``; a route's ``name=`` overrides the function's."""
    first, *rest = route.name.removesuffix(_ROUTE_SUFFIX).split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def use_component_schemas(app: FastAPI) -> None:
    """Make ``app.openapi()`` move titled inline request-body objects into ``components/schemas``."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _hoist_body_schemas(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _hoist_body_schemas(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema", {})
                if "title" in schema and schema.get("type") == "object":
                    media["schema"] = _as_component(schema, components)
    return document


def _as_component(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, str]:
    """Store ``schema`` (and its ``$defs``) as components named by their titles; return a $ref to it."""
    schema = _relink(schema)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    name = schema["title"]
    if components.setdefault(name, schema) != schema:
        raise ValueError(f"two different request bodies are both titled {name!r}")
    return {"$ref": _COMPONENT_REF + name}


def _relink(node: Any) -> Any:
    """A copy of ``node`` whose pydantic-local ``#/$defs/X`` references point at components instead."""
    if isinstance(node, dict):
        return {
            key: _COMPONENT_REF + value.removeprefix(_LOCAL_REF)
            if key == "$ref" and isinstance(value, str) and value.startswith(_LOCAL_REF)
            else _relink(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_relink(item) for item in node]
    return node
