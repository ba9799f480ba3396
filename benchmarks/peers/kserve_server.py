"""The KServe peer: KServe's Python model server with two custom models (kserve.Model, its documented way).

    python benchmarks/peers/kserve_server.py --http_port 8080 --grpc_port 8081

v1 protocol: ``POST /v1/models/mnist:predict`` takes the PNG as the raw body (Content-Type image/png: the
data plane hands non-JSON bodies to the model as bytes); ``/v1/models/logistic:predict`` takes
``{"instances": [[x1, x2]]}``. The same server answers the v2 protocol (``/v2/models/<name>/infer``): there
the model gets an InferRequest, the PNG as one BYTES element in base64, the features as FP64 [1, 2].
KServe's own defaults otherwise (one worker, gRPC on, latency logging).
"""

from __future__ import annotations

import base64

import kserve
from kserve import InferOutput, InferRequest, InferResponse

from benchmarks.peers import inference


class Mnist(kserve.Model):
    def load(self) -> bool:
        inference.mnist()
        self.ready = True
        return self.ready

    def predict(self, payload: bytes | InferRequest, headers: dict[str, str] | None = None):
        if isinstance(payload, InferRequest):
            probabilities = inference.digit_probabilities(base64.b64decode(payload.inputs[0].data[0]))
            return _v2_answer(payload, "probabilities", probabilities)
        return {"predictions": [inference.digit_probabilities(payload)]}


class Logistic(kserve.Model):
    def load(self) -> bool:
        inference.logistic()
        self.ready = True
        return self.ready

    def predict(self, payload: dict | InferRequest, headers: dict[str, str] | None = None):
        if isinstance(payload, InferRequest):
            features = [float(value) for value in payload.inputs[0].data]
            return _v2_answer(payload, "probability", [inference.logistic_probability(features)])
        return {"predictions": [inference.logistic_probability(row) for row in payload["instances"]]}


def _v2_answer(request: InferRequest, name: str, values: list[float]) -> InferResponse:
    output = InferOutput(name=name, shape=[1, len(values)], datatype="FP32", data=values)
    return InferResponse(response_id=request.id or "", model_name=request.model_name, infer_outputs=[output])


if __name__ == "__main__":
    served = [Mnist("mnist"), Logistic("logistic")]
    for model in served:
        model.load()
    kserve.ModelServer().start(served)
