def test_ready_when_both_models_load(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_predict_mnist_png_returns_ten_probabilities(client, png_digit):
    response = client.post("/predict/mnist", files=[("file", ("d.png", png_digit(), "image/png"))])
    assert response.status_code == 200
    assert len(response.json()["predictions"][0]["probabilities"]) == 10
