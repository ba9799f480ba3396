"""Inference keeps models and inputs on the served device and reads back from it once, at the end."""

from __future__ import annotations

import pytest
import torch
from conftest import make_logistic, make_softmax

import models
from app.core.servables import Servable, servable_for

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def _on(device: str, model: torch.nn.Module) -> Servable:
    checkpoint = models.Checkpoint(
        path="memory",
        architecture=model.architecture,
        version="1",
        model=model.to(device).eval(),
        metadata={},
        sha256="",
        size_bytes=0,
    )
    return servable_for("m", "1", checkpoint)


def test_predict_digits_on_cpu_returns_host_values():
    digits, probabilities = _on("cpu", make_softmax()).infer(torch.zeros(2, 28, 28, dtype=torch.uint8))
    assert len(digits) == 2
    assert all(isinstance(d, int) for d in digits)
    assert sum(probabilities[0]) == pytest.approx(1.0, abs=1e-5)


def test_preprocess_keeps_inputs_uint8_until_the_device():
    model = make_softmax()
    x = model.preprocess(torch.full((1, 28, 28), 255, dtype=torch.uint8))
    assert x.dtype == torch.float32
    assert x.device == model.linear.weight.device
    assert x[0, 0].item() == pytest.approx((1.0 - 0.1307) / 0.3081)


@pytest.mark.cuda
@needs_cuda
def test_cuda_forward_makes_no_host_sync_and_matches_cpu():
    pixels = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    cpu, cuda = _on("cpu", make_softmax()), _on("cuda", make_softmax())
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call before the read-back raises
    try:
        with torch.inference_mode():
            probabilities = cuda.model.predict_proba(pixels)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert probabilities.device.type == "cuda"
    torch.testing.assert_close(probabilities.cpu(), cpu.model.predict_proba(pixels), rtol=1e-5, atol=1e-6)
    assert cuda.infer(pixels)[0] == cpu.infer(pixels)[0]


@pytest.mark.cuda
@needs_cuda
def test_cuda_logistic_matches_cpu():
    rows = torch.tensor([[4.0, 3.0], [1.0, 2.0]])
    cuda, cpu = _on("cuda", make_logistic()).infer(rows), _on("cpu", make_logistic()).infer(rows)
    assert cuda[1] == cpu[1]
    assert cuda[0] == pytest.approx(cpu[0], rel=1e-5)
