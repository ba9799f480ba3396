"""What every gRPC call goes through: a request id, the API key, error codes, metrics and a log line.

One interceptor wraps each unary method's behaviour, as ObservabilityMiddleware wraps each HTTP request.
Streaming methods (the health service's Watch) pass through untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from pydantic import SecretStr

from app.grpc_server.status import code_for
from app.observability.logs import request_id_var
from app.observability.metrics import GRPC_HANDLING_SECONDS, RPC_COUNTS
from app.observability.middleware import REQUEST_ID_HEADER, request_id_from
from app.security import ADMIN_DISABLED, key_refusal

access_log = logging.getLogger("app.access")
log = logging.getLogger(__name__)

INFERENCE_SERVICE = "inference.GRPCInferenceService"
# x-request-id: read from the call's metadata, sent back in its trailer.
REQUEST_ID_KEY = REQUEST_ID_HEADER.decode()
# Open to anyone, as their REST twins are: probes and the server's own metadata.
OPEN_METHODS = frozenset(
    {f"/{INFERENCE_SERVICE}/{m}" for m in ("ServerLive", "ServerReady", "ServerMetadata")}
    | {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}
)
# They change what is served: the key always, and off without one (REST's /admin rule).
ADMIN_METHODS = frozenset(
    f"/{INFERENCE_SERVICE}/{m}" for m in ("RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload")
)

Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def presented_key(metadata: dict[str, str]) -> str | None:
    """The key a call presents: ``authorization: Bearer <key>`` wins over ``x-api-key``, as in REST."""
    scheme, _, credentials = metadata.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return metadata.get("x-api-key")


class ServingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, api_key: SecretStr | None, *, access_log: bool = True) -> None:
        self.api_key = api_key
        self.log_calls = access_log
        self._series: dict[tuple[str, str], Any] = {}  # (service, method) -> latency histogram child

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        return handler._replace(unary_unary=self._wrap(details.method, handler.unary_unary))

    def _refusal(self, method: str, metadata: dict[str, str]) -> tuple[grpc.StatusCode, str] | None:
        if method in OPEN_METHODS:
            return None
        if method in ADMIN_METHODS and self.api_key is None:
            return grpc.StatusCode.PERMISSION_DENIED, ADMIN_DISABLED
        refusal = key_refusal(self.api_key, presented_key(metadata))
        return None if refusal is None else (grpc.StatusCode.UNAUTHENTICATED, refusal)

    def _wrap(self, method: str, behaviour: Behaviour) -> Behaviour:
        service, _, name = method[1:].partition("/")
        latency = self._series.get((service, name))
        if latency is None:
            latency = self._series[(service, name)] = GRPC_HANDLING_SECONDS.labels(service, name)

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            metadata = {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
            sent_id = metadata.get(REQUEST_ID_KEY, "").encode()
            request_id = request_id_from([(REQUEST_ID_HEADER, sent_id)]).decode()  # REST's rule
            token = request_id_var.set(request_id)
            trailer = ((REQUEST_ID_KEY, request_id),)
            code, message = grpc.StatusCode.OK, ""
            try:
                code, message = self._refusal(method, metadata) or (code, message)
                if code is grpc.StatusCode.OK:
                    response = await behaviour(request, context)
                    context.set_trailing_metadata(trailer)
                    return response
            except asyncio.CancelledError:  # the client cancelled, or its deadline passed
                code = grpc.StatusCode.CANCELLED
                raise
            except NotImplementedError:  # the protocol's RPCs this server does not serve
                code, message = grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented"
            except Exception as exc:
                code, message = self._failure(method, exc)
            finally:
                elapsed = time.perf_counter() - started
                RPC_COUNTS.counts[(service, name, code.name)] += 1
                latency.observe(elapsed)
                if self.log_calls:
                    self._log(context, request_id, method, code, message, elapsed)
                request_id_var.reset(token)
            await context.abort(code, message, trailing_metadata=trailer)

        return observed

    @staticmethod
    def _failure(method: str, exc: Exception) -> tuple[grpc.StatusCode, str]:
        code = code_for(exc)
        if code is not None:
            return code, str(exc)
        log.error("unhandled error on %s", method, exc_info=exc)
        return grpc.StatusCode.INTERNAL, "internal server error"

    @staticmethod
    def _log(
        context: grpc.aio.ServicerContext,
        request_id: str,
        method: str,
        code: grpc.StatusCode,
        message: str,
        elapsed: float,
    ) -> None:
        duration_ms = round(elapsed * 1000, 3)
        fields = {
            "request_id": request_id,
            "method": "RPC",
            "path": method,
            "route": method,
            "status": code.name,
            "duration_ms": duration_ms,
            "client": context.peer(),
        }
        if message:
            fields["error"] = message
        access_log.info("RPC %s %s %.3fms", method, code.name, duration_ms, extra=fields)
