"""The MLServer peer: two custom inference runtimes (MLServer's documented way for a model of one's own).

Served by ``mlserver start <folder>`` with one model-settings.json per model naming these classes
(benchmarks/peers/frameworks.py writes them). Requests are the Open Inference Protocol's JSON: the PNG as
one BYTES element with ``"parameters": {"content_type": "base64"}``, the features as FP64 [1, 2].
"""

from __future__ import annotations

from mlserver import MLModel
from mlserver.codecs import Base64Codec, NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

from benchmarks.peers import inference


class MnistRuntime(MLModel):
    async def load(self) -> bool:
        inference.mnist()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        (png,) = Base64Codec.decode_input(payload.inputs[0])
        probabilities = inference.digit_probabilities(png)
        output = ResponseOutput(name="probabilities", shape=[1, 10], datatype="FP32", data=probabilities)
        return InferenceResponse(model_name=self.name, outputs=[output])


class LogisticRuntime(MLModel):
    async def load(self) -> bool:
        inference.logistic()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        (features,) = NumpyCodec.decode_input(payload.inputs[0]).tolist()
        probability = inference.logistic_probability(features)
        output = ResponseOutput(name="probability", shape=[1, 1], datatype="FP32", data=[probability])
        return InferenceResponse(model_name=self.name, outputs=[output])
