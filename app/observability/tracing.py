"""OpenTelemetry (SERVE_OPENTELEMETRY=true): the model behind each request, named on its server span.

FastAPI's own telemetry opens one server span per request (route, status, method; an incoming
``traceparent`` continued). This adds which model and version answered. It is set up only when the
setting is on, so with it off not one instruction is added to a request.
"""

from __future__ import annotations

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace

from app.core.repository import ModelRepository
from app.core.servables import Servable

# Off: none of FastAPI's three signals, so it skips its telemetry after one check per request.
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# On: FastAPI's defaults (spans, metrics and logs through the process's providers), less the spans it
# would open inside a request around dependencies and the endpoint: one server span per request.
TELEMETRY_ON: TelemetryConfig = {"operation_spans": False}


class TracedModelRepository(ModelRepository):
    """A repository whose every hand-out of a model names it on the current request's span."""

    def servable(self, name: str, version: str | None = None) -> Servable:
        servable = super().servable(name, version)
        trace.get_current_span().set_attributes({"model.name": name, "model.version": servable.version})
        return servable
