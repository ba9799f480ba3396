"""The micro-batcher: concurrent predictions share forward passes and get exactly their own results."""

from __future__ import annotations

import asyncio

import pytest
import torch
from conftest import make_logistic, make_softmax
from fastapi.testclient import TestClient

import models
from app.batching import MicroBatcher
from app.core.servables import Servable, servable_for
from app.main import create_app
from app.settings import Settings


def _servable(model: torch.nn.Module) -> Servable:
    checkpoint = models.Checkpoint(
        path="memory",
        architecture=model.architecture,
        version="1",
        model=model.eval(),
        metadata={},
        sha256="",
        size_bytes=0,
    )
    return servable_for("m", "1", checkpoint)


def _counting(servable: Servable) -> list[int]:
    """Record the size of every batch ``servable`` runs, in the list returned."""
    infer, sizes = servable.infer, []

    def counted(batch):
        sizes.append(len(batch))
        return infer(batch)

    servable.infer = counted
    return sizes


async def _submit_all(batcher: MicroBatcher, servable, inputs: list) -> list:
    batcher.start()
    try:
        return await asyncio.gather(*(batcher(servable, x) for x in inputs), return_exceptions=True)
    finally:
        await batcher.stop()


def test_micro_batcher_digits_equal_unbatched_results():
    servable = _servable(make_softmax())
    images = [torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8) for n in (1, 3, 1, 2, 1)]
    sizes = _counting(servable)
    batched = asyncio.run(_submit_all(MicroBatcher(max_size=64, max_wait_ms=50), servable, images))
    assert sizes == [8]
    for (digits, probabilities), one in zip(batched, images, strict=True):
        expected_digits, expected_probabilities = servable.infer(one)
        assert digits == expected_digits
        torch.testing.assert_close(
            torch.tensor(probabilities), torch.tensor(expected_probabilities), rtol=1e-6, atol=1e-7
        )


def test_micro_batcher_logistic_equals_unbatched_results():
    servable = _servable(make_logistic())
    rows = [servable.prepare(r) for r in ([[4.0, 3.0]], [[1.0, 2.0], [5.0, 3.0]], [[0.5, 9.0]])]
    batched = asyncio.run(_submit_all(MicroBatcher(max_size=8, max_wait_ms=50), servable, rows))
    for (probabilities, labels), one in zip(batched, rows, strict=True):
        expected_probabilities, expected_labels = servable.infer(one)
        assert labels == expected_labels
        assert probabilities == pytest.approx(expected_probabilities, rel=1e-6)


def test_micro_batcher_logistic_json_and_tensor_inputs_share_a_batch():
    servable = _servable(make_logistic())
    sizes = _counting(servable)
    from_json = servable.prepare([[1.0, 2.0]])
    from_tensor = servable.prepare(torch.tensor([[1.0, 2.0], [4.0, 3.0]], dtype=torch.float32))
    batched = asyncio.run(
        _submit_all(MicroBatcher(max_size=8, max_wait_ms=50), servable, [from_json, from_tensor])
    )
    assert sizes == [3]
    assert batched == [servable.infer(from_json), servable.infer(from_tensor)]
    assert batched[0][0] == [batched[1][0][0]]


def test_micro_batcher_never_exceeds_max_size():
    servable = _servable(make_softmax())
    sizes = _counting(servable)
    images = [torch.zeros(1, 28, 28, dtype=torch.uint8)] * 10
    asyncio.run(_submit_all(MicroBatcher(max_size=4, max_wait_ms=50), servable, images))
    assert sizes == [4, 4, 2]


def test_micro_batcher_error_reaches_only_its_request():
    servable = _servable(make_softmax())
    good, bad = torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, 27, 27, dtype=torch.uint8)
    results = asyncio.run(_submit_all(MicroBatcher(max_size=64, max_wait_ms=50), servable, [good, bad, good]))
    assert isinstance(results[1], models.InvalidInputError)
    assert str(results[1]) == "expected a batch of 28x28 = 784 pixel images, got shape [1, 27, 27]"
    assert results[0] == results[2] == servable.infer(good)


def test_micro_batcher_not_started_refuses():
    batcher = MicroBatcher(max_size=4, max_wait_ms=1)
    with pytest.raises(RuntimeError, match="the batcher is not running"):
        asyncio.run(batcher(_servable(make_softmax()), torch.zeros(1, 784)))


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
    servable = _servable(make_logistic())
    rows = [servable.prepare(r) for r in ([[1e300, -1e300]], [[-3e38, 3e38], [1.0, 2.0]])]
    batched = asyncio.run(_submit_all(MicroBatcher(max_size=8, max_wait_ms=50), servable, rows))
    assert [probabilities[0] for probabilities, _ in batched] == [1.0, 0.0]
    assert batched[1][0][1] == servable.infer(servable.prepare([[1.0, 2.0]]))[0][0]
