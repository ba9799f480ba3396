"""An image sent as the whole body (Content-Type: image/png, ...), as TorchServe and KServe v1 take it."""

from __future__ import annotations

import shutil

from tests.api.helpers import served_probabilities, upload
from tests.conftest import digit_pixels, encode_image


def _raw(client, data: bytes, content_type: str = "image/png", path: str = "/predict/mnist"):
    return client.post(path, content=data, headers={"content-type": content_type})


def test_predict_raw_png_equals_the_multipart_upload(client, png_digit):
    raw = _raw(client, png_digit())
    multipart = client.post("/predict/mnist", files=upload(("digit.png", png_digit())))
    assert raw.status_code == 200
    assert raw.json() == multipart.json()


def test_predict_raw_image_reads_each_format(client):
    pixels = digit_pixels()
    multipart = client.post("/predict/mnist", files=upload(("d.bmp", encode_image(pixels, "BMP"))))
    expected = served_probabilities(multipart)
    for fmt, content_type in (("BMP", "image/bmp"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        response = _raw(client, encode_image(pixels, fmt), content_type)
        assert response.status_code == 200, fmt
        if fmt != "WEBP":  # lossless formats decode to the same pixels
            assert served_probabilities(response) == expected


def test_predict_raw_image_takes_content_type_parameters_and_aliases(client, png_digit):
    assert _raw(client, png_digit(), "Image/PNG; charset=binary").status_code == 200
    jpeg = encode_image(digit_pixels(), "JPEG")
    assert _raw(client, jpeg, "image/jpg").status_code == 200


def test_predict_raw_image_of_an_unsupported_type(client, png_digit):
    response = _raw(client, png_digit(), "image/tiff")
    assert response.status_code == 415
    assert response.json() == {
        "detail": "image type image/tiff is not supported; send one of image/png, image/jpeg, image/bmp, "
        "image/gif, image/webp"
    }


def test_predict_raw_image_empty_body(client):
    response = _raw(client, b"")
    assert response.status_code == 422
    assert response.json() == {"detail": "file 'body' is empty"}


def test_predict_raw_image_not_an_image(client):
    response = _raw(client, b"hello, not a picture")
    assert response.status_code == 422
    assert response.json() == {"detail": "file 'body' is not an image that can be read"}


def test_predict_raw_image_over_the_upload_limit(client_with, png_digit):
    response = _raw(client_with(max_upload_bytes=64), png_digit())
    assert response.status_code == 413
    assert response.json() == {"detail": "file 'body' is larger than the upload limit of 64 bytes"}


def test_predict_raw_image_has_the_upload_body_limit_not_the_json_one(client_with):
    bmp = encode_image(digit_pixels(), "BMP")  # 28x28 8-bit BMP: about 1.9 KB
    assert len(bmp) > 1024
    response = _raw(client_with(max_json_bytes=1024), bmp, "image/bmp")
    assert response.status_code == 200


def test_predict_raw_image_with_a_generic_digit_model(client_with, model_repository, png_digit):
    (model_repository / "digits").mkdir()
    shutil.copy(model_repository / "mnist" / "1.pt", model_repository / "digits" / "1.pt")
    client = client_with()
    response = _raw(client, png_digit(), path="/predict/digits")
    assert response.status_code == 200
    assert response.json()["model"]["name"] == "digits"
    assert response.json()["predictions"] == _raw(client, png_digit()).json()["predictions"]


def test_predict_raw_image_to_a_logistic_model_is_refused_as_not_json(client, png_digit):
    response = _raw(client, png_digit(), path="/predict/logistic")
    assert response.status_code == 415
    assert response.json() == {
        "detail": "expected a JSON body with content type application/json, got image/png"
    }
