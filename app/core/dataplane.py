"""The data plane: what every front end (REST /predict, OIP /v2, gRPC) calls, and nothing of any protocol.

    live() / ready() / model_ready(name, version)      health
    metadata(name, version)                            a model's versions and tensors
    servable(name, version) + predict(servable, x)     the /predict fast path: look up once, then run
    explain(servable, x)                               predict's columns and the exact explanation
    infer(name, version, inputs, outputs)              named tensors in, named columns out (OIP, gRPC)
    load / unload / reload / pin / index               model control (app/core/control.py)

Errors are app/core/errors.py kinds (and models' InvalidInputError); each front end maps them to its own
codes in one place. Inference runs through the model's runner (app/batching.py), so every front end gets
identical results for identical inputs, micro-batched or not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from app.batching import Runner, make_runner
from app.core.errors import InvalidContentError, UnknownVersionError, check_batch_size
from app.core.repository import ModelRepository, VersionState
from app.core.servables import Servable, TensorSpec

PLATFORM = "pytorch"
SERVER_NAME = "digit-logistic-serving"  # the server metadata's name, on REST and gRPC alike


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    versions: list[str]  # every version that serves, in version order
    platform: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


@dataclass(frozen=True)
class InputTensor:
    """A tensor as a front end received it: declared name, datatype and shape, decoded on demand.

    ``decode`` runs only after the declaration passed the model's checks, so a refused request never
    costs a decode.
    """

    name: str
    datatype: str
    shape: Sequence[int]
    decode: Callable[[], torch.Tensor]


@dataclass(frozen=True)
class InferResult:
    model_name: str
    model_version: str
    batch_size: int
    outputs: list[tuple[TensorSpec, list]]  # in the order asked for; values flat, row-major


@dataclass(frozen=True)
class RunnerOptions:
    batching: bool = False
    max_size: int = 64
    max_wait_ms: float = 2.0


class DataPlane:
    def __init__(self, repository: ModelRepository, *, max_batch_size: int, runners: RunnerOptions) -> None:
        self.repository = repository
        self.max_batch_size = max_batch_size
        self._runner_options = runners
        self._runners: dict[str, Runner] = {}  # one per model name; a micro-batcher never mixes models
        self._running = False

    # Health

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self.repository.ready

    def model_ready(self, name: str, version: str | None = None) -> bool:
        """Whether ``name`` (or that version of it) serves; Unknown*Error for a name or version never seen."""
        entry = self.repository.model(name)
        if version is None:
            return entry.default is not None
        found = entry.versions.get(version)
        if found is None:
            raise UnknownVersionError(name, version, [v.version for v in entry.serving])
        return found.state is VersionState.READY

    # Metadata

    def metadata(self, name: str, version: str | None = None) -> ModelMetadata:
        servable = self.repository.servable(name, version)
        signature = servable.signature
        entry = self.repository.model(name)
        versions = [version] if version is not None else [v.version for v in entry.serving]
        return ModelMetadata(
            name=name,
            versions=versions,
            platform=PLATFORM,
            inputs=[signature.input],
            outputs=list(signature.outputs),
        )

    # Inference

    def servable(self, name: str, version: str | None = None) -> Servable:
        """The servable that answers ``name`` (at ``version``): hold on to it for the whole request."""
        return self.repository.servable(name, version)

    async def predict(self, servable: Servable, inputs: Any) -> tuple[list, ...]:
        """``servable``'s result columns for ``inputs``, checked by its ``prepare`` first, always."""
        return await self._runners[servable.name](servable, servable.prepare(inputs))

    async def explain(self, servable: Servable, inputs: Any) -> tuple[Any, ...]:
        """As ``predict``, with the model's exact explanation; run on its own, never micro-batched (a
        request asks for it for its own rows, and the explanation is larger than the prediction)."""
        return servable.explain(servable.prepare(inputs))

    async def infer(
        self,
        name: str,
        version: str | None,
        inputs: Sequence[InputTensor],
        outputs: Sequence[str] | None = None,
    ) -> InferResult:
        """Run ``name`` on named tensors; ``outputs`` picks which outputs to return, in order (all: None)."""
        servable = self.servable(name, version)
        signature = servable.signature
        wanted = signature.outputs if outputs is None else self._outputs(servable, outputs)
        tensor = self._input(servable, inputs)
        columns = await self.predict(servable, tensor.decode())
        named = servable.outputs(columns)
        return InferResult(
            model_name=name,
            model_version=servable.version,
            batch_size=tensor.shape[0],
            outputs=[(spec, named[spec.name]) for spec in wanted],
        )

    def _outputs(self, servable: Servable, names: Sequence[str]) -> list[TensorSpec]:
        specs = []
        for name in names:
            spec = servable.signature.output(name)
            if spec is None:
                known = ", ".join(o.name for o in servable.signature.outputs)
                raise InvalidContentError(f"model {servable.name!r} has no output {name!r}; outputs: {known}")
            if spec in specs:  # each would be answered in full: a small request, a huge response
                raise InvalidContentError(f"output {name!r} is requested twice")
            specs.append(spec)
        return specs

    def _input(self, servable: Servable, inputs: Sequence[InputTensor]) -> InputTensor:
        spec = servable.signature.input
        if len(inputs) != 1 or inputs[0].name != spec.name:
            sent = ", ".join(repr(i.name) for i in inputs)
            raise InvalidContentError(f"model {servable.name!r} takes one input, {spec.name!r}; got {sent}")
        tensor = inputs[0]
        if tensor.datatype not in spec.datatypes:
            raise InvalidContentError(
                f"input {spec.name!r}: datatype {tensor.datatype} is not accepted; use one of "
                + ", ".join(spec.datatypes)
            )
        if not spec.accepts_shape(tensor.shape):
            accepted = " or ".join(str(list(shape)) for shape in spec.shapes)
            raise InvalidContentError(f"input {spec.name!r}: shape {list(tensor.shape)} is not {accepted}")
        check_batch_size(tensor.shape[0], self.max_batch_size)
        return tensor

    # Runners: one per model name, started with the data plane.

    def add_runner(self, name: str) -> None:
        """Give model ``name`` its runner (on its first load); started at once if the plane runs."""
        if name in self._runners:
            return
        options = self._runner_options
        runner = make_runner(
            batching=options.batching, max_size=options.max_size, max_wait_ms=options.max_wait_ms
        )
        self._runners[name] = runner
        if self._running:
            runner.start()

    def start(self) -> None:
        self._running = True
        for runner in self._runners.values():
            runner.start()

    async def stop(self) -> None:
        self._running = False
        for runner in self._runners.values():
            await runner.stop()
