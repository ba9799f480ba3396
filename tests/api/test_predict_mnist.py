import io

import pytest
import torch
from conftest import digit_pixels, encode_image
from PIL import Image

from api.helpers import upload


def _probabilities(client, pixels: torch.Tensor) -> list[list[float]]:
    """What the served model gives for raw uint8 pixels, called directly."""
    model = client.app.state.registry.get("mnist").model
    with torch.inference_mode():
        return model.predict_proba(pixels.reshape(-1, 28, 28)).tolist()


def _post(client, *parts: tuple[str, bytes], **params):
    return client.post("/predict/mnist", files=upload(*parts), params=params)


def test_predict_mnist_png_matches_model_on_same_tensor(client):
    pixels = digit_pixels()
    response = _post(client, ("seven.png", encode_image(pixels)))
    assert response.status_code == 200
    [expected] = _probabilities(client, pixels)
    assert response.json() == {
        "model": {"name": "mnist", "version": "1.0.0", "architecture": "softmax_regression"},
        "predictions": [{"digit": max(range(10), key=expected.__getitem__), "probabilities": expected}],
    }


def test_predict_mnist_keeps_upload_order(client):
    images = [digit_pixels(seed) for seed in (3, 1, 2)]
    images[1][10:14, 4:24] = 255  # make the three clearly different, not just noise apart
    response = _post(client, *[(f"{i}.png", encode_image(p)) for i, p in enumerate(images)])
    assert response.status_code == 200
    got = [p["probabilities"] for p in response.json()["predictions"]]
    assert got == _probabilities(client, torch.stack(images))
    assert got[0] != got[1] != got[2]


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF", "WEBP"])
def test_predict_mnist_lossless_formats_decode_exactly(client, fmt):
    pixels = digit_pixels()
    data = _save(Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())), fmt, lossless=True)
    response = _post(client, (f"d.{fmt.lower()}", data))
    assert response.status_code == 200
    assert [p["probabilities"] for p in response.json()["predictions"]] == _probabilities(client, pixels)


def test_predict_mnist_jpeg(client):
    response = _post(client, ("d.jpg", encode_image(digit_pixels(), "JPEG")))
    assert response.status_code == 200
    assert len(response.json()["predictions"][0]["probabilities"]) == 10


@pytest.mark.parametrize("mode", ["RGB", "LA", "RGBA"])
def test_predict_mnist_colour_and_opaque_alpha_read_as_luminance(client, mode):
    pixels = digit_pixels()
    response = _post(client, ("d.png", encode_image(pixels, mode=mode)))
    assert response.status_code == 200
    assert [p["probabilities"] for p in response.json()["predictions"]] == _probabilities(client, pixels)


def test_predict_mnist_transparency_composited_onto_white(client):
    pixels = digit_pixels()
    ink = Image.new("RGBA", (28, 28), (0, 0, 0, 0))  # black ink whose opacity draws the digit
    ink.putalpha(Image.frombytes("L", (28, 28), bytes(pixels.flatten().tolist())))
    response = _post(client, ("ink.png", _save(ink, "PNG")))
    assert response.status_code == 200
    # On white paper the ink reads black-on-white; auto-invert brings back the white-on-black digit.
    [got] = [p["probabilities"] for p in response.json()["predictions"]]
    assert got == pytest.approx(_probabilities(client, pixels)[0], abs=1e-3)


def test_predict_mnist_auto_inverts_dark_on_light(client):
    pixels = digit_pixels()
    response = _post(client, ("paper.png", encode_image(255 - pixels)))
    assert response.status_code == 200
    assert [p["probabilities"] for p in response.json()["predictions"]] == _probabilities(client, pixels)


def test_predict_mnist_invert_never_keeps_polarity(client):
    paper = 255 - digit_pixels()
    response = _post(client, ("paper.png", encode_image(paper)), invert="never")
    assert response.status_code == 200
    assert [p["probabilities"] for p in response.json()["predictions"]] == _probabilities(client, paper)


def test_predict_mnist_invert_always_flips(client):
    pixels = digit_pixels()
    response = _post(client, ("d.png", encode_image(pixels)), invert="always")
    assert response.status_code == 200
    assert [p["probabilities"] for p in response.json()["predictions"]] == _probabilities(
        client, 255 - pixels
    )


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
    assert [p["probabilities"] for p in response.json()["predictions"]] == _probabilities(client, first)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
