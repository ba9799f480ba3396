"""Fixtures for the training tests: tiny data files written in tmp_path, nothing from ../shared."""

import struct

import pytest
import torch


def write_idx_images(path, images):
    """IDX3 as torchvision reads it: big-endian magic 2051, then N, rows, cols, then uint8 pixels."""
    n, rows, cols = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, rows, cols) + images.numpy().tobytes())


def write_idx_labels(path, labels):
    """IDX1: big-endian magic 2049, then N, then one uint8 label each."""
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.to(torch.uint8).numpy().tobytes())


@pytest.fixture
def tiny_mnist_root(tmp_path):
    """A torchvision MNIST root with 64 training and 20 test random digits in <root>/MNIST/raw."""
    raw = tmp_path / "mnist-root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    for split, n in (("train", 64), ("t10k", 20)):
        images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)
        write_idx_images(raw / f"{split}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{split}-labels-idx1-ubyte", torch.arange(n) % 10)
    return tmp_path / "mnist-root"


@pytest.fixture
def write_csv(tmp_path):
    """Write CSV text to tmp_path/data.csv and return its path."""

    def write(text, name="data.csv"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """digit-train-mnist pins torch's thread count for its process; keep that from leaking into others."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
