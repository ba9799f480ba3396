"""The TorchServe peer's custom handler: a module-level ``handle(data, context)`` (TorchServe's documented
contract for a custom service), one file for both models, told apart by the model's name.

The models are archived with torch-model-archiver (no serialized file: the handler loads our checkpoint) and
served with one worker each (benchmarks/peers/frameworks.py). ``POST /predictions/mnist`` takes the PNG as
the raw body; ``POST /predictions/logistic`` takes ``{"features": [x1, x2]}`` (decoded by TorchServe).
"""

from __future__ import annotations

from benchmarks.peers import inference


def handle(data: list[dict] | None, context) -> list | None:
    if data is None:  # the worker's start-up call
        inference.load_both()
        return None
    name = context.manifest["model"]["modelName"]
    answers = []
    for request in data:
        body = request.get("body", request.get("data"))
        if name == "mnist":
            answers.append({"probabilities": inference.digit_probabilities(bytes(body))})
        else:
            answers.append({"probability": inference.logistic_probability(body["features"])})
    return answers
