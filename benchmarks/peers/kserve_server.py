"""The KServe peer: KServe's Python model server with two custom models (kserve.Model, its documented way).

    python benchmarks/peers/kserve_server.py --http_port 8080 --grpc_port 8081

v1 protocol: ``POST /v1/models/mnist:predict`` takes the PNG as the raw body (Content-Type image/png: the
data plane hands non-JSON bodies to the model as bytes); ``/v1/models/logistic:predict`` takes
``{"instances": [[x1, x2]]}``. KServe's own defaults otherwise (one worker, gRPC on, latency logging).
"""

from __future__ import annotations

import kserve

from benchmarks.peers import inference


class Mnist(kserve.Model):
    def load(self) -> bool:
        inference.mnist()
        self.ready = True
        return self.ready

    def predict(self, payload: bytes, headers: dict[str, str] | None = None) -> dict:
        return {"predictions": [inference.digit_probabilities(payload)]}


class Logistic(kserve.Model):
    def load(self) -> bool:
        inference.logistic()
        self.ready = True
        return self.ready

    def predict(self, payload: dict, headers: dict[str, str] | None = None) -> dict:
        return {"predictions": [inference.logistic_probability(row) for row in payload["instances"]]}


if __name__ == "__main__":
    served = [Mnist("mnist"), Logistic("logistic")]
    for model in served:
        model.load()
    kserve.ModelServer().start(served)
