"""Inputs schemathesis found that once broke the service, pinned as plain tests."""


def test_predict_logistic_ragged_instances_name_the_bad_one(client):
    response = client.post("/predict/logistic", json={"instances": [[1.0, 2.0], []]})
    assert response.status_code == 422
    assert response.json() == {"detail": "instance 1 has 0 features; expected 2 (x1, x2)"}


def test_predict_logistic_body_not_utf8_is_a_declared_400(client):
    response = client.post(
        "/predict/logistic", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "request body is not valid JSON: expected value at line 1 column 1"}
    assert "400" in client.get("/openapi.json").json()["paths"]["/predict/logistic"]["post"]["responses"]
