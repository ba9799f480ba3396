"""The BentoML peer: a BentoML 1.4 Service with two APIs, as its docs write one.

    bentoml serve benchmarks.peers.bentoml_service:Digits --port 3000

``POST /mnist`` takes the image as multipart/form-data (BentoML decodes a ``PIL.Image.Image`` argument
from the part named after it, ``image``); ``POST /logistic`` takes ``{"features": [x1, x2]}``. One
worker, BentoML's defaults otherwise; with uvicorn[standard] installed (httptools, uvloop), as ours runs.
"""

from __future__ import annotations

import bentoml
from PIL.Image import Image

from benchmarks.peers import inference


@bentoml.service(workers=1)
class Digits:
    def __init__(self) -> None:
        inference.load_both()

    @bentoml.api
    def mnist(self, image: Image) -> list[float]:
        return inference.image_probabilities(image)

    @bentoml.api
    def logistic(self, features: list[float]) -> float:
        return inference.logistic_probability(features)
