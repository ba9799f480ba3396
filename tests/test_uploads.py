"""Multipart bodies whose framing is hostile: refused with a 400 that names the problem."""

import pytest
from conftest import digit_pixels, encode_image


def _multipart(boundary: str, data: bytes) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n\r\n'.encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _post(client, boundary: str):
    return client.post(
        "/predict/mnist",
        content=_multipart(boundary, encode_image(digit_pixels())),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )


@pytest.mark.parametrize("length", [71, 300, 5000])
def test_read_files_boundary_longer_than_rfc_2046_allows_is_400(client, length):
    response = _post(client, "b" * length)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"multipart boundary is {length} characters; RFC 2046 allows 1 to 70"},
    )


def test_read_files_boundary_of_70_characters_is_read(client):
    assert _post(client, "b" * 70).status_code == 200
