"""Scale-out on Ray Serve: the app create_app() builds, replicated and autoscaled by Ray.

    pip install '.[ray]'
    digit-serve-ray --min-replicas 1 --max-replicas 4      # or: python -m app.ray_serve

Every replica runs the same FastAPI app, routes and lifespan included: Ray Serve's ingress runs the
app's lifespan inside each replica, so each one loads the models exactly as ``digit-serve`` does. Responses
carry ``X-Served-By: <replica id>`` so a client (and the tests) can see which replica answered.
"""

from __future__ import annotations

import argparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from ray import serve
from ray.serve import Application
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.main import create_app
from app.settings import Settings


class RaySettings(BaseSettings):
    """The deployment's shape on Ray; env prefix SERVE_RAY_, each also a digit-serve-ray option."""

    model_config = SettingsConfigDict(env_prefix="SERVE_RAY_", frozen=True, extra="ignore")

    replicas: int | None = Field(None, ge=1, description="A fixed replica count; unset: autoscale.")
    min_replicas: int = Field(1, ge=0, description="Autoscaling: fewest replicas.")
    max_replicas: int = Field(4, ge=1, description="Autoscaling: most replicas.")
    target_ongoing_requests: float = Field(
        8, gt=0, description="Autoscaling: requests in flight per replica that Ray aims for."
    )
    max_ongoing_requests: int = Field(64, ge=1, description="Requests a replica takes at once.")
    num_cpus: float = Field(1, gt=0, description="CPUs Ray reserves for each replica.")
    host: str = Field("127.0.0.1", description="Ray Serve's HTTP proxy bind address.")
    port: int = Field(8000, description="Ray Serve's HTTP proxy port.")

    def deployment_options(self) -> dict:
        options: dict = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "ray_actor_options": {"num_cpus": self.num_cpus},
        }
        if self.replicas is not None:
            options["num_replicas"] = self.replicas
        else:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return options


class ServedByHeader:
    """Pure ASGI middleware: names the replica that answered in ``X-Served-By``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replica = serve.get_replica_context().replica_id.unique_id.encode()

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-served-by", replica)]
            await send(message)

        await self.app(scope, receive, send_with_header)


def build(ray_settings: RaySettings | None = None, settings: Settings | None = None) -> Application:
    """The Ray Serve application: one deployment whose ingress is the service's FastAPI app."""
    ray_settings = ray_settings or RaySettings()
    fastapi_app = create_app(settings)
    fastapi_app.add_middleware(ServedByHeader)

    @serve.deployment(name="digit-serving", **ray_settings.deployment_options())
    @serve.ingress(fastapi_app)
    class ServingDeployment:
        """Routes, models and lifespan all come from the FastAPI app."""

    return ServingDeployment.bind()


def app_builder(args: dict[str, str]) -> Application:
    """For a Ray Serve config file or KubeRay's RayService: ``import_path: app.ray_serve:app_builder``.

    ``args`` are RaySettings fields; the environment (SERVE_RAY_*) fills in the rest.
    """
    return build(RaySettings(**args))


def main(argv: list[str] | None = None) -> None:
    defaults = RaySettings()
    parser = argparse.ArgumentParser(
        prog="digit-serve-ray", description="Serve the prediction API on Ray Serve (local or a cluster)."
    )
    parser.add_argument(
        "--replicas", type=int, default=defaults.replicas, help="fixed count; unset: autoscale"
    )
    parser.add_argument("--min-replicas", type=int, default=defaults.min_replicas)
    parser.add_argument("--max-replicas", type=int, default=defaults.max_replicas)
    parser.add_argument("--target-ongoing-requests", type=float, default=defaults.target_ongoing_requests)
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    args = parser.parse_args(argv)
    ray_settings = RaySettings.model_validate({**defaults.model_dump(), **vars(args)})  # same bounds as env
    serve.start(http_options={"host": ray_settings.host, "port": ray_settings.port})
    serve.run(build(ray_settings), blocking=True)


if __name__ == "__main__":
    main()
