"""The servables' inference guard."""

import torch

from app.core.servables import inference_mode


def test_inference_mode_guard_is_torch_inference_mode():
    with inference_mode():
        assert torch.is_inference_mode_enabled()
        assert torch.ones(1).is_inference()
    assert not torch.is_inference_mode_enabled()


def test_inference_mode_guard_restores_the_outer_mode():
    with torch.inference_mode():
        with inference_mode():
            pass
        assert torch.is_inference_mode_enabled()
