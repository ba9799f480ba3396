"""SoftmaxRegression's serving path gives bit-identical results to its plain formulas (issue 16)."""

import pytest
import torch

from models import InvalidInputError, MnistConfig, SoftmaxRegression


def reference_proba(model, pixels):
    """Probabilities by the formulas as first written: reshape, float32, scale, shift, linear, softmax."""
    cfg = model.config
    x = pixels.reshape(pixels.shape[0], cfg.in_features)
    if x.dtype != torch.uint8:
        x = x.to(torch.float32)
    x = x.mul(1 / (cfg.pixel_scale * cfg.std)).add_(-cfg.mean / cfg.std)
    return torch.softmax(model.linear(x), dim=-1)


def images(count, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (count, 28, 28), generator=generator).to(dtype)
    pixels[0] = 0  # blank
    if count > 1:
        pixels[1] = 255  # saturated
    return pixels


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
@pytest.mark.parametrize("count", [1, 2, 7, 64])
@pytest.mark.parametrize("flat", [False, True])
def test_softmax_predict_proba_is_bit_identical_to_the_formulas(dtype, count, flat):
    torch.manual_seed(count)
    model = SoftmaxRegression().eval().requires_grad_(False)
    pixels = images(count, dtype, seed=count)
    if flat:
        pixels = pixels.reshape(count, 784)
    before = pixels.clone()
    with torch.inference_mode():
        got = model.predict_proba(pixels)
    assert torch.equal(got, reference_proba(model, pixels))
    assert torch.equal(pixels, before)  # the caller's tensor is not written to


def test_softmax_predict_proba_non_contiguous_pixels_are_bit_identical():
    model = SoftmaxRegression()
    pixels = images(3, torch.float32, seed=1).transpose(1, 2)
    with torch.inference_mode():
        assert torch.equal(model.predict_proba(pixels), reference_proba(model, pixels))


def test_softmax_predict_proba_other_config_is_bit_identical():
    config = MnistConfig(image_size=8, num_classes=4, pixel_scale=1.0, mean=0.5, std=0.25)
    model = SoftmaxRegression(config)
    pixels = torch.rand(5, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(model.predict_proba(pixels), reference_proba(model, pixels))


@pytest.mark.parametrize("shape", [(784,), (0, 784), (1, 28, 27), (1, 783), (1, 1, 28, 28)])
def test_softmax_preprocess_wrong_shape_is_invalid(shape):
    with pytest.raises(InvalidInputError, match="expected a batch of 28x28 = 784 pixel images"):
        SoftmaxRegression().preprocess(torch.zeros(shape, dtype=torch.uint8))
