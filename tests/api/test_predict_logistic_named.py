"""/predict/logistic by feature name, and a CSV-trained, standardised model served as it was trained."""

import pytest
import torch

import models
from training import logistic


def test_predict_logistic_named_features_equal_positional(client):
    positional = client.post("/predict/logistic", json={"features": [4.0, 3.0]})
    named = client.post("/predict/logistic", json={"features": {"x2": 3.0, "x1": 4.0}})
    assert named.status_code == 200
    assert named.json() == positional.json()


def test_predict_logistic_instances_named_and_positional_mixed(client):
    positional = client.post("/predict/logistic", json={"instances": [[1.0, 2.0], [5.0, 3.0]]})
    named = client.post("/predict/logistic", json={"instances": [{"x1": 1.0, "x2": 2.0}, [5.0, 3.0]]})
    assert named.status_code == 200
    assert named.json() == positional.json()


@pytest.mark.parametrize(
    ("features", "problem"),
    [
        ({"x1": 4.0}, "missing x2"),
        ({"x1": 4.0, "x2": 3.0, "x3": 1.0}, "unknown x3"),
        ({"x1": 4.0, "X2": 3.0}, "missing x2; unknown X2"),
        ({}, "missing x1, x2"),
    ],
    ids=["missing", "extra", "misspelt", "empty"],
)
def test_predict_logistic_wrong_names_list_the_expected_names(client, features, problem):
    response = client.post("/predict/logistic", json={"instances": [[1.0, 2.0], features]})
    assert response.status_code == 422
    assert response.json() == {"detail": f"instance 1: {problem}; expected the features x1, x2"}


def test_predict_logistic_named_value_must_be_a_number(client):
    response = client.post("/predict/logistic", json={"features": {"x1": "4", "x2": 3.0}})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "features", "object", "x1"],
            "msg": "Input should be a valid number",
            "type": "float_type",
        }
    ]


def test_get_model_lists_feature_names_in_order(client):
    assert client.get("/models/logistic").json()["input"]["feature_names"] == ["x1", "x2"]


def test_v2_metadata_shows_feature_names_and_fp32_n_by_f(client):
    metadata = client.get("/v2/models/logistic").json()
    assert metadata["inputs"] == [
        {"name": "features", "datatype": "FP32", "shape": [-1, 2], "parameters": {"feature_names": "x1,x2"}}
    ]
    assert "parameters" not in metadata["outputs"][0]


def test_openapi_shows_a_request_by_feature_name(client):
    operation = client.get("/openapi.json").json()["paths"]["/predict/logistic"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert examples["one instance, by feature name"]["value"] == {"features": {"x1": 4.0, "x2": 3.0}}


@pytest.fixture
def income_model(model_repository):
    """train-logistic on a semicolon CSV of incomes and ages, into the repository beside the defaults."""
    folder = model_repository.parent
    generator = torch.Generator().manual_seed(3)
    income = 40_000 + 30_000 * torch.rand(120, generator=generator)
    age = 20 + 40 * torch.rand(120, generator=generator)
    label = ((income - 55_000) / 3_000 - (age - 40) / 8 + torch.randn(120, generator=generator)) > 0
    rows = [f"{i:.0f};{a:.0f};{int(y)}" for i, a, y in zip(income, age, label, strict=True)]
    (folder / "income.csv").write_text("income;age;ok\n" + "\n".join(rows) + "\n")
    argv = ["--csv", str(folder / "income.csv"), "--features", "income,age", "--label", "ok"]
    assert (
        logistic.main([*argv, "--repository", str(model_repository), "--name", "income", "--no-report"]) == 0
    )
    return model_repository / "income" / "1.pt"


def test_csv_trained_model_served_beside_the_defaults_gives_the_offline_probabilities(income_model, client):
    checkpoint = models.load(income_model)
    assert checkpoint.config.standardized
    instances = [[52_000.0, 31.0], [41_000.0, 58.0], [69_000.0, 25.0]]
    with torch.inference_mode():
        model = checkpoint.model
        offline = model.predict_proba(model.preprocess(torch.tensor(instances))).tolist()

    named = [{"income": income, "age": age} for income, age in instances]
    for body in ({"instances": instances}, {"instances": named}):
        response = client.post("/predict/income", json=body)
        assert response.status_code == 200
        assert response.json()["model"]["name"] == "income"
        assert [p["probability"] for p in response.json()["predictions"]] == offline
    assert offline[0] != offline[1]  # raw incomes would saturate every probability at 0 or 1
    assert {m["name"] for m in client.get("/models").json()["models"]} == {"income", "logistic", "mnist"}
    assert client.post("/predict/logistic", json={"features": [4.0, 3.0]}).status_code == 200


def test_csv_trained_model_served_over_oip_matches_rest(income_model, client):
    rest = client.post("/predict/income", json={"features": {"income": 52_000.0, "age": 31.0}}).json()
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [52_000.0, 31.0]}]}
    oip = client.post("/v2/models/income/infer", json=body).json()
    probability = next(o for o in oip["outputs"] if o["name"] == "probability")["data"]
    assert probability == [rest["predictions"][0]["probability"]]


def test_predict_logistic_named_batch_over_limit_is_refused_before_parsing(client_with):
    instances = [{"x1": 1.0, "x2": 2.0}] * 3
    response = client_with(max_batch_size=2).post("/predict/logistic", json={"instances": instances})
    assert response.status_code == 413
    assert response.json() == {"detail": "batch of at least 3 instances exceeds the limit of 2"}


def test_predict_logistic_named_batch_at_the_limit_is_served(client_with):
    instances = [{"x1": 1.0, "x2": 2.0}] * 2
    response = client_with(max_batch_size=2).post("/predict/logistic", json={"instances": instances})
    assert response.status_code == 200
