"""include=input and include=explanation on the prediction routes: what the model saw, and why it decided."""

import base64
import io

import pytest
import torch
from conftest import digit_pixels, encode_image
from PIL import Image

from api.helpers import model_probabilities, served_probabilities, upload
from app.schemas.examples import SEVEN_PIXELS


def _logits(client, pixels: torch.Tensor) -> torch.Tensor:
    model = client.app.state.dataplane.servable("mnist").model
    with torch.inference_mode():
        return model(model.preprocess(pixels.reshape(-1, 28, 28)))


def test_pixels_explanation_sums_to_the_logits(client):
    response = client.post("/predict/mnist/pixels?include=explanation", json={"pixels": SEVEN_PIXELS})
    assert response.status_code == 200
    [prediction] = response.json()["predictions"]
    logits = _logits(client, torch.tensor(SEVEN_PIXELS))[0]
    explanation = prediction["explanation"]
    assert explanation["predicted"]["digit"] == prediction["digit"]
    assert explanation["runner_up"]["digit"] == int(logits.topk(2).indices[1])
    for part in explanation.values():
        total = part["baseline"] + sum(sum(row) for row in part["contributions"])
        assert total == pytest.approx(float(logits[part["digit"]]), abs=1e-4)
        assert part["logit"] == pytest.approx(float(logits[part["digit"]]), abs=1e-6)
    assert "input" not in prediction


def test_upload_input_is_the_fitted_28x28(client):
    page = Image.new("L", (200, 300), 240)
    page.paste(20, (80, 60, 110, 240))  # a dark "1" on light paper
    response = client.post(
        "/predict/mnist", params={"include": ["input", "explanation"]}, files=upload(("one.png", _png(page)))
    )
    assert response.status_code == 200
    [prediction] = response.json()["predictions"]
    png = Image.open(io.BytesIO(base64.b64decode(prediction["input"]["png"])))
    pixels = torch.tensor(prediction["input"]["pixels"], dtype=torch.uint8)
    assert (png.size, png.mode) == ((28, 28), "L")
    assert torch.equal(torch.frombuffer(bytearray(png.tobytes()), dtype=torch.uint8).view(28, 28), pixels)
    assert pixels.max() == 255
    assert pixels[:, :4].sum() == 0  # white on black, fitted into the middle
    assert served_probabilities(response) == model_probabilities(client, pixels)


def test_predictions_without_include_have_no_extras(client):
    response = client.post("/predict/mnist", files=upload(("d.png", encode_image(digit_pixels()))))
    assert set(response.json()["predictions"][0]) == {"digit", "probabilities"}


def test_include_unknown_value(client):
    response = client.post("/predict/mnist/pixels?include=why", json={"pixels": SEVEN_PIXELS})
    assert response.status_code == 422
    assert response.json() == {"detail": "include='why' is not one of: input, explanation"}


def test_logistic_explanation_sums_to_the_logit(client):
    response = client.post("/predict/logistic?include=explanation", json={"instances": [[4, 3], [1, 2]]})
    assert response.status_code == 200
    model = client.app.state.dataplane.servable("logistic").model
    for prediction, row in zip(response.json()["predictions"], [[4.0, 3.0], [1.0, 2.0]], strict=True):
        explanation = prediction["explanation"]
        logit = float(model.logits(torch.tensor([row], dtype=torch.float64))[0, 0])
        assert explanation["logit"] == pytest.approx(logit, abs=1e-5)
        total = explanation["bias"] + sum(c["contribution"] for c in explanation["contributions"])
        assert total == pytest.approx(logit, abs=1e-5)
        assert [c["feature"] for c in explanation["contributions"]] == ["x1", "x2"]
        assert [c["value"] for c in explanation["contributions"]] == row
        assert prediction["probability"] == pytest.approx(float(torch.sigmoid(torch.tensor(logit))), abs=1e-6)


def test_logistic_include_input_is_refused(client):
    response = client.post("/predict/logistic?include=input", json={"features": [4, 3]})
    assert response.status_code == 422
    assert response.json() == {"detail": "include='input' is not one of: explanation"}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_logistic_explanation_beyond_float64_is_refused(client):
    # 3.253 x 1e308 overflows: the share would be infinite, which JSON cannot carry and cannot add up.
    response = client.post("/predict/logistic?include=explanation", json={"features": [1e308, -1e308]})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "instance 0 cannot be explained: the share of feature 'x1' in the logit (weight x value) "
        "exceeds float64's range"
    }


def test_logistic_prediction_beyond_float64_is_answered(client):
    response = client.post("/predict/logistic", json={"features": [1e308, -1e308]})
    assert response.status_code == 200
    assert response.json()["predictions"] == [{"label": 1, "probability": 1.0}]
