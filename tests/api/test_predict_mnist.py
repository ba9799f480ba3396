import asyncio
import io
import random

import pytest
import torch
from conftest import digit_pixels, encode_image
from PIL import Image
from starlette.requests import Request

from api.helpers import model_probabilities, png_declaring, served_probabilities, upload
from app.errors import PayloadTooLargeError
from app.uploads import read_files


def _post(client, *parts: tuple[str, bytes], **params):
    return client.post("/predict/mnist", files=upload(*parts), params=params)


def test_predict_mnist_png_matches_model_on_same_tensor(client):
    pixels = digit_pixels()
    response = _post(client, ("seven.png", encode_image(pixels)))
    assert response.status_code == 200
    [expected] = model_probabilities(client, pixels)
    assert response.json() == {
        "model": {"name": "mnist", "version": "1", "architecture": "softmax_regression"},
        "predictions": [{"digit": max(range(10), key=expected.__getitem__), "probabilities": expected}],
    }


def test_predict_mnist_keeps_upload_order(client):
    images = [digit_pixels(seed) for seed in (3, 1, 2)]
    images[1][10:14, 4:24] = 255  # make the three clearly different, not just noise apart
    response = _post(client, *[(f"{i}.png", encode_image(p)) for i, p in enumerate(images)])
    assert response.status_code == 200
    got = served_probabilities(response)
    assert got == model_probabilities(client, torch.stack(images))
    assert got[0] != got[1] != got[2]


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF", "WEBP"])
def test_predict_mnist_lossless_formats_decode_exactly(client, fmt):
    pixels = digit_pixels()
    data = _save(Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())), fmt, lossless=True)
    response = _post(client, (f"d.{fmt.lower()}", data))
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, pixels)


def test_predict_mnist_jpeg_reads_what_the_decoder_gives(client):
    data = encode_image(digit_pixels(), "JPEG")  # lossy: compare with the decoded file, not the source
    decoded = torch.frombuffer(
        bytearray(Image.open(io.BytesIO(data)).convert("L").tobytes()), dtype=torch.uint8
    )
    response = _post(client, ("d.jpg", data))
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, decoded)


@pytest.mark.parametrize("mode", ["RGB", "LA", "RGBA"])
def test_predict_mnist_colour_and_opaque_alpha_read_as_luminance(client, mode):
    pixels = digit_pixels()
    response = _post(client, ("d.png", encode_image(pixels, mode=mode)))
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, pixels)


def test_predict_mnist_transparency_composited_onto_white(client):
    pixels = digit_pixels()
    ink = Image.new("RGBA", (28, 28), (0, 0, 0, 0))  # black ink whose opacity draws the digit
    ink.putalpha(Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())))
    response = _post(client, ("ink.png", _save(ink, "PNG")))
    assert response.status_code == 200
    # On white paper the ink reads black-on-white; auto-invert brings back the white-on-black digit.
    [got] = served_probabilities(response)
    assert got == pytest.approx(model_probabilities(client, pixels)[0], abs=1e-3)


def test_predict_mnist_auto_inverts_dark_on_light(client):
    pixels = digit_pixels()
    response = _post(client, ("paper.png", encode_image(255 - pixels)))
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, pixels)


def test_predict_mnist_invert_never_keeps_polarity(client):
    paper = 255 - digit_pixels()
    response = _post(client, ("paper.png", encode_image(paper)), invert="never")
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, paper)


def test_predict_mnist_invert_always_flips(client):
    pixels = digit_pixels()
    response = _post(client, ("d.png", encode_image(pixels)), invert="always")
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, 255 - pixels)


def test_predict_mnist_invert_unknown_value(client):
    response = _post(client, ("d.png", encode_image(digit_pixels())), invert="maybe")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["query", "invert"],
                "msg": "Input should be 'auto', 'always' or 'never'",
                "type": "literal_error",
            }
        ]
    }


def test_predict_mnist_gif_reads_first_frame(client):
    first, second = digit_pixels(0), 255 - digit_pixels(1)
    frames = [Image.frombytes("L", (28, 28), bytes(p.flatten().tolist())) for p in (first, second)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    response = _post(client, ("anim.gif", buffer.getvalue()))
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, first)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _image_file(fmt: str) -> bytes:
    return _save(Image.frombytes("L", (28, 28), bytes(digit_pixels().flatten().tolist())), fmt)


_PNG = encode_image(digit_pixels())
_SUPPORTED = "supported image formats: PNG, JPEG, BMP, GIF, WEBP"


@pytest.mark.parametrize(
    ("name", "data", "status", "detail"),
    [
        ("empty.png", b"", 422, "file 'empty.png' is empty"),
        ("notes.png", b"hello, not an image", 422, "file 'notes.png' is not an image that can be read"),
        (
            "cut.png",
            _PNG[: _PNG.index(b"IDAT") + 40],
            422,
            "image 'cut.png' is truncated or corrupt (PNG: image file is truncated)",
        ),
        (
            "d.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"/>',
            415,
            f"file 'd.svg' is in SVG format; {_SUPPORTED}",
        ),
        ("d.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 415, f"file 'd.pdf' is in PDF format; {_SUPPORTED}"),
        ("d.tif", _image_file("TIFF"), 415, f"file 'd.tif' is in TIFF format; {_SUPPORTED}"),
        ("d.ico", _image_file("ICO"), 415, f"file 'd.ico' is in ICO format; {_SUPPORTED}"),
        (
            "big.png",
            png_declaring(6000, 5000),
            413,
            "image 'big.png' is 6000x5000 = 30000000 pixels, over the limit of 24000000",
        ),
        (
            "bomb.png",
            png_declaring(20000, 20000),
            413,
            "image 'bomb.png' declares too many pixels to decode, over the limit of 24000000",
        ),
    ],
    ids=["empty", "not an image", "truncated", "svg", "pdf", "tiff", "ico", "too big", "bomb"],
)
def test_predict_mnist_refuses_bad_file(client, name, data, status, detail):
    response = _post(client, ("ok.png", _PNG), (name, data))
    assert response.status_code == status
    assert response.json() == {"detail": detail}


def test_predict_mnist_file_over_upload_limit(client_with):
    response = _post(client_with(max_upload_bytes=1000), ("huge.png", b"\x89PNG" + b"\x00" * 5000))
    assert response.status_code == 413
    assert response.json() == {"detail": "file 'huge.png' is larger than the upload limit of 1000 bytes"}


def test_predict_mnist_too_many_files(client_with):
    response = _post(client_with(max_batch_size=2), *[(f"{i}.png", _PNG) for i in range(3)])
    assert response.status_code == 413
    assert response.json() == {"detail": "too many files: at most 2 images per request"}


def test_predict_mnist_no_file(client):
    response = client.post(
        "/predict/mnist", content=b"--b--\r\n", headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "no file uploaded: send one or more image parts named 'file'"}


def test_predict_mnist_other_form_field(client):
    response = client.post("/predict/mnist", data={"image": "x"}, files=upload(("d.png", _PNG)))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "unexpected form field 'image'; send each image as a file part named 'file'"
    }


def test_predict_mnist_body_cut_before_closing_boundary(client):
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n\r\n' + _PNG
    response = client.post(
        "/predict/mnist", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "malformed multipart body: it ends before its closing boundary"}


def test_predict_mnist_multipart_without_boundary(client):
    response = client.post("/predict/mnist", content=b"x", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 400
    assert response.json() == {"detail": "multipart/form-data body without a boundary parameter"}


def test_predict_mnist_json_body(client):
    response = client.post("/predict/mnist", json={"pixels": [0] * 784})
    assert response.status_code == 415
    assert response.json() == {
        "detail": "expected a multipart/form-data body with image parts named 'file', or one image as the "
        "body (image/png, image/jpeg, image/bmp, image/gif, image/webp); got application/json"
    }


def test_read_files_stops_reading_at_the_limit():
    chunk = b"\x00" * 1024
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    sent = 0

    async def receive():  # an endless upload: only the limit can end it
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": head if sent == 1 else chunk, "more_body": True}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
    }
    with pytest.raises(PayloadTooLargeError, match="larger than the upload limit of 4096 bytes"):
        asyncio.run(
            read_files(
                Request(scope, receive),
                "multipart/form-data; boundary=b",
                field_name="file",
                max_files=1,
                max_file_bytes=4096,
                max_total_bytes=8192,
            )
        )
    assert sent == 6  # the header part, then five 1 KiB chunks: the fifth crosses 4096 bytes


def _page_with_a_one() -> bytes:
    page = Image.new("L", (200, 300), 240)
    page.paste(20, (80, 60, 110, 240))
    return _save(page, "PNG")


def test_predict_mnist_fits_any_size(client):
    response = _post(client, ("photo.png", _page_with_a_one()))
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 1


def test_predict_mnist_fit_never_refuses_other_sizes(client):
    response = _post(client, ("photo.png", _page_with_a_one()), fit="never")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "image 'photo.png' is 200x300 pixels; expected 28x28 (or send fit=auto to have it fitted)"
    }


def test_predict_mnist_fit_always_fits_a_28x28(client):
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[1:6, 1:4] = 255  # off-centre and small: the fit moves and enlarges it
    response = _post(client, ("d.png", encode_image(pixels)), fit="always")
    assert response.status_code == 200
    assert served_probabilities(response) != model_probabilities(client, pixels)


def test_predict_mnist_image_without_ink(client):
    response = _post(client, ("blank.png", _save(Image.new("L", (100, 80), 230), "PNG")))
    assert response.status_code == 422
    assert response.json() == {
        "detail": "image 'blank.png' shows no digit: nothing in it stands out from its background"
    }


def test_predict_mnist_upload_total_limit(client_with):
    client = client_with(max_upload_total_bytes=3000)
    response = _post(client, *[(f"{i}.png", b"\x89PNG" + b"\x00" * 1000) for i in range(4)])
    assert response.status_code == 413
    assert response.json() == {"detail": "the files in this request together exceed the limit of 3000 bytes"}


def test_predict_mnist_file_field_without_filename(client):
    body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nseven.png\r\n--b--\r\n'
    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = client.post("/predict/mnist", content=body, headers=headers)  # curl -F file=seven.png
    assert response.status_code == 400
    assert response.json() == {
        "detail": "form field 'file' is a value, not a file: it has no filename in its Content-Disposition; "
        "upload the image as a file (curl: -F file=@digit.png)"
    }


def test_predict_mnist_refuses_a_truncated_photo_to_be_fitted(client):
    """Pixels are decoded inside the decoder's guard on the fit path too, not lazily after it."""
    photo = _save(Image.new("L", (200, 150), 230), "JPEG")
    response = _post(client, ("cut.jpg", photo[: len(photo) // 2]))
    assert response.status_code == 422
    assert response.json()["detail"].startswith("image 'cut.jpg' is truncated or corrupt (JPEG: ")


@pytest.mark.parametrize("kind", ["scan", "photo", "paint"])
def test_predict_mnist_reads_a_capture_as_the_realworld_benchmark_does(client, kind):
    """benchmarks/realworld.py reads its captures in-process; a file sent with default options is read the
    same, so its accuracy figures are those of uploads."""
    realworld = pytest.importorskip("benchmarks.realworld")  # needs torchvision, the train extra
    digit = Image.fromarray(digit_pixels().numpy(), "L")
    data = realworld.MAKERS[kind](digit, random.Random(kind))
    response = _post(client, (f"{kind}.img", data), include="input")
    assert response.status_code == 200
    assert response.json()["predictions"][0]["input"]["pixels"] == realworld.read_ours(data).tolist()
