"""The micro-batcher: concurrent predictions share forward passes and get exactly their own results."""

from __future__ import annotations

import asyncio

import pytest
import torch
from conftest import make_logistic, make_softmax
from fastapi.testclient import TestClient

import models
from app.batching import MicroBatcher
from app.inference import predict_digits, predict_logistic
from app.main import create_app
from app.settings import Settings


def _checkpoint(model: torch.nn.Module) -> models.Checkpoint:
    return models.Checkpoint(
        path="memory",
        architecture=model.architecture,
        version="1",
        model=model.eval(),
        metadata={},
        sha256="",
        size_bytes=0,
    )


class _CountingInference:
    """Wraps an app/inference.py function and records the size of every batch it ran."""

    def __init__(self, infer):
        self.infer, self.sizes = infer, []

    def __call__(self, checkpoint, inputs):
        self.sizes.append(len(inputs))
        return self.infer(checkpoint, inputs)


async def _submit_all(batcher: MicroBatcher, checkpoint, inputs: list) -> list:
    await batcher.start()
    try:
        return await asyncio.gather(*(batcher(checkpoint, x) for x in inputs), return_exceptions=True)
    finally:
        await batcher.stop()


def test_micro_batcher_digits_equal_unbatched_results():
    checkpoint = _checkpoint(make_softmax())
    images = [torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8) for n in (1, 3, 1, 2, 1)]
    infer = _CountingInference(predict_digits)
    batched = asyncio.run(_submit_all(MicroBatcher(infer, max_size=64, max_wait_ms=50), checkpoint, images))
    assert infer.sizes == [8]
    for (digits, probabilities), one in zip(batched, images, strict=True):
        expected_digits, expected_probabilities = predict_digits(checkpoint, one)
        assert digits == expected_digits
        torch.testing.assert_close(
            torch.tensor(probabilities), torch.tensor(expected_probabilities), rtol=1e-6, atol=1e-7
        )


def test_micro_batcher_logistic_equals_unbatched_results():
    checkpoint = _checkpoint(make_logistic())
    rows = [[[4.0, 3.0]], [[1.0, 2.0], [5.0, 3.0]], [[0.5, 9.0]]]
    batched = asyncio.run(
        _submit_all(MicroBatcher(predict_logistic, max_size=8, max_wait_ms=50), checkpoint, rows)
    )
    for (probabilities, labels), one in zip(batched, rows, strict=True):
        expected_probabilities, expected_labels = predict_logistic(checkpoint, one)
        assert labels == expected_labels
        assert probabilities == pytest.approx(expected_probabilities, rel=1e-6)


def test_micro_batcher_never_exceeds_max_size():
    checkpoint = _checkpoint(make_softmax())
    infer = _CountingInference(predict_digits)
    images = [torch.zeros(1, 28, 28, dtype=torch.uint8)] * 10
    asyncio.run(_submit_all(MicroBatcher(infer, max_size=4, max_wait_ms=50), checkpoint, images))
    assert infer.sizes == [4, 4, 2]


def test_micro_batcher_error_reaches_only_its_request():
    checkpoint = _checkpoint(make_softmax())
    good, bad = torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, 27, 27, dtype=torch.uint8)
    results = asyncio.run(
        _submit_all(MicroBatcher(predict_digits, max_size=64, max_wait_ms=50), checkpoint, [good, bad, good])
    )
    assert isinstance(results[1], models.InvalidInputError)
    assert str(results[1]) == "expected a batch of 28x28 = 784 pixel images, got shape [1, 27, 27]"
    assert results[0] == results[2] == predict_digits(checkpoint, good)


def test_micro_batcher_not_started_refuses():
    batcher = MicroBatcher(predict_digits, max_size=4, max_wait_ms=1)
    with pytest.raises(RuntimeError, match="the batcher is not running"):
        asyncio.run(batcher(_checkpoint(make_softmax()), torch.zeros(1, 784)))


def test_predict_mnist_batching_on_matches_off(settings: Settings, png_digit):
    responses = []
    for batching in (False, True):
        app = create_app(settings.model_copy(update={"batching": batching}))
        with TestClient(app) as client:
            responses.append(
                client.post("/predict/mnist", files={"file": ("d.png", png_digit(), "image/png")})
            )
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].json() == responses[1].json()


def test_micro_batcher_logistic_huge_finite_features_give_probabilities():
    checkpoint = _checkpoint(make_logistic())
    rows = [[[1e300, -1e300]], [[-3e38, 3e38], [1.0, 2.0]]]
    batched = asyncio.run(
        _submit_all(MicroBatcher(predict_logistic, max_size=8, max_wait_ms=50), checkpoint, rows)
    )
    assert [probabilities[0] for probabilities, _ in batched] == [1.0, 0.0]
    assert batched[1][0][1] == predict_logistic(checkpoint, [[1.0, 2.0]])[0][0]
