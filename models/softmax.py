"""Softmax regression on 28x28 MNIST digits: one Linear(784, 10)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from models.errors import InvalidInputError
from models.explanation import Explanation, explain_linear


@dataclass(frozen=True)
class MnistConfig:
    """Input geometry and the preprocessing the weights were trained with.

    Raw pixels are 0..255 with the digit white on a black background (MNIST's polarity);
    the model sees ``(pixel / pixel_scale - mean) / std``.
    """

    image_size: int = 28
    num_classes: int = 10
    pixel_scale: float = 255.0
    mean: float = 0.1307
    std: float = 0.3081
    polarity: str = "white_on_black"

    def __post_init__(self) -> None:
        if self.polarity not in ("white_on_black", "black_on_white"):
            raise ValueError(f"unknown polarity {self.polarity!r}")
        if self.std <= 0 or self.pixel_scale <= 0:
            raise ValueError("std and pixel_scale must be positive")
        if not 1 <= self.image_size <= 1024:  # the model's size follows: bounded before it is built
            raise ValueError(f"image_size must be between 1 and 1024, got {self.image_size}")
        if not 2 <= self.num_classes <= 10:  # one class per digit, as the responses describe them
            raise ValueError(f"num_classes must be between 2 and 10, got {self.num_classes}")

    @property
    def in_features(self) -> int:
        return self.image_size * self.image_size


class SoftmaxRegression(nn.Module):
    """forward maps preprocessed [N, 784] inputs to [N, 10] logits; softmax is applied at inference."""

    architecture = "softmax_regression"

    def __init__(self, config: MnistConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or MnistConfig()
        self.linear = nn.Linear(cfg.in_features, cfg.num_classes)
        # Worked out once from the frozen config, not per batch.
        self._image_shapes = ((cfg.in_features,), (cfg.image_size, cfg.image_size))  # [N, 784] or [N, 28, 28]
        self._pixel_factor = 1 / (cfg.pixel_scale * cfg.std)  # (x / scale - mean) / std = x * factor + offset
        self._pixel_offset = -cfg.mean / cfg.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.linear.weight, self.linear.bias)  # Linear's own forward, one call fewer

    def preprocess(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw 0..255 pixels, [N, 28, 28] or [N, 784], any real dtype -> normalized [N, 784] float32
        on the model's device. Training and serving both go through here, so they cannot drift."""
        shape = pixels.shape
        if len(shape) < 2 or shape[0] == 0 or shape[1:] not in self._image_shapes:
            cfg = self.config
            raise InvalidInputError(
                f"expected a batch of {cfg.image_size}x{cfg.image_size} = {cfg.in_features} pixel images, "
                f"got shape {list(shape)}"
            )
        # Checked where the pixels arrive (the host, when serving), before the copy to the device.
        if pixels.dtype is not torch.uint8:
            if not bool(torch.isfinite(pixels).all()):
                raise InvalidInputError("pixel values must be finite numbers (no NaN or infinity)")
            scale = self.config.pixel_scale
            if bool((pixels < 0).any()) or bool((pixels > scale).any()):
                raise InvalidInputError(f"pixel values must lie in 0..{scale:g}")
        # non_blocking: no stream sync for the copy (from pageable memory CUDA stages it before returning,
        # so the source may be freed at once); the one sync per batch is the caller's read-back.
        x = pixels if len(shape) == 2 else pixels.reshape(shape[0], -1)
        weight = self.linear.weight
        if not (x.is_cpu and weight.is_cpu):  # on the CPU the copy would be a no-op call
            x = x.to(weight.device, non_blocking=True)
        # After the copy: uint8 pixels cross the bus at a quarter of the size. Other pixels become float32
        # first, so every input is normalised with float32 arithmetic.
        if x.dtype is not torch.uint8:
            x = x.float()
        # (x / scale - mean) / std as a multiply into a new float32 tensor (uint8 promotes), then an add in
        # place on it: two ops on the serving hot path, and the caller's tensor is never written to.
        return x.mul(self._pixel_factor).add_(self._pixel_offset)

    def predict_proba(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw pixels -> [N, 10] class probabilities."""
        # forward itself, not through Module.__call__: nothing hooks a model that serves (a microsecond).
        return self.forward(self.preprocess(pixels)).softmax(-1)

    def explain(self, pixels: torch.Tensor, top: int = 2) -> Explanation:
        """Raw pixels -> each pixel's share of the logits of the ``top`` most probable digits (the predicted
        one first), against a blank image: the baseline is the logit of an all-black image, so ink is what
        moves a digit's score, and a pixel without ink contributes nothing."""
        inputs = self.preprocess(pixels)
        blank = self.preprocess(torch.zeros(1, self.config.in_features, dtype=torch.uint8))[0]
        logits = self(inputs)
        return explain_linear(self.linear, inputs, blank, logits.topk(top, dim=-1).indices, logits)

    def templates(self) -> torch.Tensor:
        """[classes, 28, 28]: each digit's weights laid out as an image, what its detector looks for."""
        side = self.config.image_size
        return self.linear.weight.detach().reshape(self.config.num_classes, side, side)
