"""The peer benchmark's pure helpers (benchmarks/peers/identity.py, envs.py): no framework installed."""

import gzip
import struct

import pytest

from benchmarks.peers.envs import pip_certificates, pip_index_options
from benchmarks.peers.identity import differences, float32_bits, read_idx_images


def test_float32_bits_of_a_float32_value_and_its_shortest_repr_are_equal():
    exact = struct.unpack("<f", struct.pack("<f", 0.1))[0]  # 0.10000000149011612, as ours prints it
    assert float32_bits([exact]) == float32_bits([0.1])  # "0.1", as orjson prints a numpy float32


def test_differences_empty_when_identical():
    assert differences([0.25, 1e-30], [0.25, 1e-30]) == []


def test_differences_names_one_bit_apart():
    one_ulp_up = struct.unpack("<f", struct.pack("<I", struct.unpack("<I", struct.pack("<f", 0.5))[0] + 1))[0]
    assert differences([0.25, 0.5], [0.25, one_ulp_up]) == [f"[1]: {one_ulp_up!r} is not ours 0.5"]


def test_differences_names_a_length_mismatch():
    assert differences([0.1] * 10, [0.1] * 9) == ["9 values where ours has 10"]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_images_yields_each_image_up_to_count(tmp_path, suffix):
    path = tmp_path / f"images{suffix}"
    content = struct.pack(">IIII", 0x0803, 3, 2, 2) + bytes(range(12))
    path.write_bytes(gzip.compress(content) if suffix else content)
    assert list(read_idx_images(path, 2)) == [bytes([0, 1, 2, 3]), bytes([4, 5, 6, 7])]


def test_read_idx_images_refuses_another_file(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(struct.pack(">II", 0x0801, 0))
    with pytest.raises(ValueError, match="not an idx3 image file"):
        list(read_idx_images(path))


def test_pip_index_options_carry_pips_indexes_once():
    config = (
        "global.extra-index-url='file:///a/simple file:///b/simple'\n"
        ":env:.find-links='/opt/wheels'\nglobal.find-links='/opt/wheels'\nglobal.timeout='60'\n"
    )
    assert pip_index_options(config) == [
        "--index-strategy",
        "unsafe-best-match",
        "--extra-index-url",
        "file:///a/simple",
        "--extra-index-url",
        "file:///b/simple",
        "--find-links",
        "/opt/wheels",
    ]


def test_pip_certificates_become_ssl_cert_file():
    assert pip_certificates("global.cert='/etc/ssl/ca.crt'\n") == {"SSL_CERT_FILE": "/etc/ssl/ca.crt"}
    assert pip_certificates("") == {}
