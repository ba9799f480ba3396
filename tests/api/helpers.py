"""Builders for API test inputs, and readers of the answers, shared by the test modules."""

from __future__ import annotations

import struct
import zlib

import torch
from prometheus_client.parser import text_string_to_metric_families


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims ``width`` x ``height`` grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def upload(*parts: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    """httpx ``files=`` for image parts named ``file``, each given as (filename, bytes)."""
    return [("file", (name, data, "application/octet-stream")) for name, data in parts]


def model_probabilities(client, pixels: torch.Tensor) -> list[list[float]]:
    """What the served MNIST model gives for raw pixels, called directly rather than over HTTP."""
    model = client.app.state.dataplane.servable("mnist").model
    with torch.inference_mode():
        return model.predict_proba(pixels.reshape(-1, 28, 28)).tolist()


def served_probabilities(response) -> list[list[float]]:
    """The probabilities a /predict/mnist* answer holds, one list per image."""
    return [p["probabilities"] for p in response.json()["predictions"]]


def metric_sample(client, name: str, **labels: str) -> float:
    """One sample's value as GET /metrics shows it (0 when absent); ``client`` is any httpx-style client."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0
