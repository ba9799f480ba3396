"""Service configuration: environment variables prefixed SERVE_, read once through get_settings()."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every field is documented in the README's configuration table; keep the two in step."""

    model_config = SettingsConfigDict(env_prefix="SERVE_", frozen=True, extra="ignore")

    # The model repository (README: "The model repository"): <repository>/<name>/<version>.pt
    model_repository: Path = Field(
        Path("model_repository"),
        description="The model repository folder: <name>/<version>.pt, each model's optional "
        "config.json (relative to the cwd).",
    )
    repository_mode: Literal["poll", "explicit"] = Field(
        "poll",
        description="poll: every worker follows the folder (new, changed and removed version files); "
        "explicit: the folder is read at start-up and after admin calls only.",
    )
    repository_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="How often each worker looks at the repository (poll mode), or for admin changes "
        "(explicit mode). Every worker converges within about two intervals.",
    )
    max_checkpoint_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest checkpoint file loaded; larger ones are refused."
    )
    checkpoint_read_timeout_seconds: float = Field(
        10.0, gt=0, le=600, description="Longest a checkpoint file may take to read before it is refused."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the models run: auto picks CUDA when a GPU is present."
    )
    max_batch_size: int = Field(64, ge=1, description="Most instances or images in one request.")
    max_upload_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        description="Largest accepted image file, in bytes: a phone photo (2-8 MB) fits.",
    )
    max_upload_total_bytes: int = Field(
        32 * 1024 * 1024, ge=1, description="Most bytes of image files in one request, all files together."
    )
    max_image_pixels: int = Field(
        24_000_000,
        ge=784,
        description="Largest image (width x height) whose header is even looked at: a 12-megapixel photo "
        "fits; larger ones are refused before decoding, as decompression bombs.",
    )

    # Authentication and live model updates (admin)
    api_key: SecretStr | None = Field(
        None,
        description="When set, /predict, /models and /admin want it as `Authorization: Bearer <key>` or "
        "`X-API-Key: <key>`. Unset: the service is open, and /admin and /v2/repository are off.",
    )
    metrics_require_key: bool = Field(False, description="Whether /metrics also wants the API key.")

    @field_validator("api_key")
    @classmethod
    def _api_key_not_blank(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not key.get_secret_value().strip():
            raise ValueError("SERVE_API_KEY is blank; unset it to run without a key")
        return key

    # Observability and request limits: logs, request ids, the request body limit (README: "Observability").
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as readable text, or as one JSON object per line for log shippers."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe level logged."
    )
    access_log: bool = Field(
        True, description="One log line per request (replaces uvicorn's access log, which is then off)."
    )
    debug: bool = Field(
        False,
        description="Log at DEBUG level and add query strings to request lines. Request bodies (uploads, "
        "features) are never logged.",
    )
    opentelemetry: bool = Field(
        False,
        description="FastAPI's built-in OpenTelemetry (traces, metrics, logs) through the providers the "
        "process configured, e.g. under `opentelemetry-instrument`. Off by default: it costs every request "
        "a look-up even with no provider set.",
    )
    max_request_bytes: int | None = Field(
        None,
        ge=1,
        description="Largest request body, in bytes, refused with 413 before it is read; default: "
        "max_upload_total_bytes plus 1 MiB for multipart headers.",
    )

    trusted_hosts: list[str] = Field(
        ["*"],
        description='Host names the service answers to, as a JSON list: `["api.example.com", '
        '"*.example.com"]`; a request with any other Host header gets 400. `["*"]` (the default) answers '
        "any name: fine behind a proxy that routes by name, or where clients use an address.",
    )

    max_json_bytes: int | None = Field(
        None,
        ge=1,
        description="Largest body that is not multipart (JSON, and OIP's binary tensors), in bytes; default: "
        "16 KiB per instance of max_batch_size (1 MiB), room for a full batch of 784-pixel images.",
    )
    max_body_memory_bytes: int | None = Field(
        None,
        ge=1,
        description="Most bytes that request bodies still arriving may hold in a worker, all requests "
        "together; the request that would cross it gets 503. Default: 4 full-size requests.",
    )

    @property
    def request_body_limit(self) -> int:
        if self.max_request_bytes is not None:
            return self.max_request_bytes
        return self.max_upload_total_bytes + 1024 * 1024

    @property
    def json_body_limit(self) -> int:
        default = self.max_batch_size * 16 * 1024
        return min(self.max_json_bytes or default, self.request_body_limit)

    @property
    def body_memory_limit(self) -> int:
        return self.max_body_memory_bytes or 4 * self.request_body_limit

    # Speed and scale: micro-batching concurrent predictions (app/batching.py).
    batching: bool = Field(
        False,
        description="Gather concurrent predictions for a model into one forward pass (off: on CPU "
        "the models are too small for it to pay; see benchmarks/).",
    )
    batch_max_size: int = Field(
        64, ge=1, description="Most rows (instances or images) in one gathered batch."
    )
    batch_max_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="Longest a prediction waits for others to join its batch, in ms."
    )

    # The Open Inference Protocol over gRPC, beside REST in the same process (app/grpc_server/).
    grpc_enabled: bool = Field(
        True, description="Serve the Open Inference Protocol over gRPC too, on grpc_port, in every worker."
    )
    grpc_port: int = Field(8001, ge=1, le=65535, description="The gRPC port (8001, as Triton's).")
    grpc_host: str = Field(
        "127.0.0.1",
        description="The gRPC bind address; `digit-serve` sets it to its own --host unless this is set.",
    )

    # Uvicorn process settings, read by the `digit-serve` command (app/cli.py).
    workers: int = Field(
        1, ge=1, description="Worker processes; each holds its own copy of torch and the models."
    )
    torch_threads: int = Field(
        1,
        ge=1,
        description="torch's CPU threads per operation, in each worker. The models are too small to gain "
        "from more, and threads beyond the worker's core wait on each other, on the event loop.",
    )
    keep_alive_seconds: int = Field(5, ge=1, description="How long an idle keep-alive connection stays open.")
    limit_concurrency: int = Field(
        200,
        ge=1,
        description="Most requests being worked on per worker at once; beyond it, 503 with Retry-After. "
        "Connections still sending their request do not count (see max_connections and the timeouts).",
    )

    # Connection limits, enforced by app/http_protocol.py (README: "Hardening").
    max_connections: int = Field(
        1000, ge=1, description="Most open connections per worker; a connection beyond it gets 503."
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a client has to send a request's line and headers; then 408."
    )
    body_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest pause within a request body, and the grace before min_body_bytes_per_second "
        "applies; then 408.",
    )
    min_body_bytes_per_second: float = Field(
        1024.0, ge=0, description="Slowest average pace a request body may arrive at; slower, 408."
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest request line plus headers, in bytes; larger, 431."
    )
    max_headers: int = Field(100, ge=1, description="Most header lines in a request; more, 431.")
    linger_seconds: float = Field(
        2.0,
        ge=0,
        description="After answering a request whose body is not read (a 413, say), how long the "
        "connection drains before it closes, so that the client reads the answer and not a reset.",
    )
    graceful_timeout_seconds: int = Field(
        10, ge=1, description="On SIGTERM, how long requests in flight may take to finish."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
