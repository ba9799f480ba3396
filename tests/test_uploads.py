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


def _post_body(client, body: bytes):
    return client.post(
        "/predict/mnist", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )


def test_read_files_utf8_filename_is_named_as_sent(client):
    head = '--b\r\nContent-Disposition: form-data; name="file"; filename="zähl.png"\r\n\r\n'.encode()
    response = _post_body(client, head + b"not an image\r\n--b--\r\n")
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "file 'zähl.png' is not an image that can be read"},
    )


def test_read_files_latin_1_filename_is_named_with_a_replacement_character(client):
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="z\xe4hl.png"\r\n\r\n'
    response = _post_body(client, head + b"not an image\r\n--b--\r\n")
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "file 'z\ufffdhl.png' is not an image that can be read"},
    )


def test_read_files_part_without_content_disposition_is_400(client):
    response = _post_body(client, b"--b\r\nContent-Type: image/png\r\n\r\nx\r\n--b--\r\n")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "malformed multipart body: Missing Content-Disposition segment header"},
    )


def test_read_files_part_with_too_many_headers_is_400(client):
    headers = b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(9))
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
    response = _post_body(client, head + headers + b"\r\nx\r\n--b--\r\n")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "malformed multipart body: Maximum segment header count exceeded"},
    )


def test_read_files_data_after_the_closing_boundary_is_ignored(client):
    body = _multipart("b", encode_image(digit_pixels())) + b"an epilogue, which RFC 2046 allows"
    assert _post_body(client, body).status_code == 200
