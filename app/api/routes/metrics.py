"""Prometheus metrics, in its text exposition format."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.observability.metrics import render

router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, latency, inference, predictions, models",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
