"""Both models: output shapes and the input checks in preprocess."""

import pytest
import torch

from models import InvalidInputError, LogisticConfig, LogisticRegression, MnistConfig, SoftmaxRegression


def test_logistic_forward_returns_one_probability_per_row():
    model = LogisticRegression()
    probabilities = model(model.preprocess(torch.ones(5, 2)))
    assert probabilities.shape == (5,)
    assert bool(((probabilities > 0) & (probabilities < 1)).all())


@pytest.mark.parametrize(
    ("features", "expected"),
    [([1e300, -1e300], 1.0), ([-3e38, 3e38], 0.0), ([1.7e308, -1.7e308], 1.0), ([1e308, 1e308], 1.0)],
)
def test_logistic_predict_proba_huge_finite_features_never_nan(features, expected):
    model = LogisticRegression()
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[3.25, 1.5]]))
        model.linear.bias.fill_(-14.0)
    probability = model.predict_proba(model.preprocess(torch.tensor([features], dtype=torch.float64)))
    assert probability.tolist() == [expected]


def test_logistic_predict_proba_equals_forward_on_ordinary_features():
    model = LogisticRegression()
    x = torch.tensor([[1.0, 2.0], [5.0, 3.0], [-0.5, 0.25]])
    assert torch.allclose(model.predict_proba(model.preprocess(x)), model(x), rtol=1e-6, atol=1e-7)


def test_logistic_labels_follow_the_threshold():
    model = LogisticRegression()
    assert model.labels(torch.tensor([0.2, 0.5, 0.9])).tolist() == [0, 1, 1]


def test_softmax_forward_returns_ten_logits_per_image():
    model = SoftmaxRegression()
    assert model(model.preprocess(torch.zeros(3, 28, 28, dtype=torch.uint8))).shape == (3, 10)


def test_softmax_predict_proba_rows_sum_to_one():
    probabilities = SoftmaxRegression().predict_proba(torch.full((4, 784), 128.0))
    assert probabilities.shape == (4, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(4))


def test_softmax_preprocess_normalizes_with_config_mean_and_std():
    model = SoftmaxRegression(MnistConfig(mean=0.5, std=0.25))
    x = model.preprocess(torch.tensor([[0.0, 255.0] * 392]))
    assert x[0, :2].tolist() == [-2.0, 2.0]


def test_logistic_preprocess_wrong_feature_count_is_rejected():
    with pytest.raises(InvalidInputError) as exc:
        LogisticRegression().preprocess(torch.ones(2, 3))
    assert str(exc.value) == "expected a batch of instances with 2 features each, got shape [2, 3]"


def test_logistic_preprocess_nan_is_rejected():
    with pytest.raises(InvalidInputError) as exc:
        LogisticRegression().preprocess(torch.tensor([[1.0, float("nan")]]))
    assert str(exc.value) == "features must be finite numbers (no NaN or infinity)"


def test_softmax_preprocess_wrong_shape_is_rejected():
    with pytest.raises(InvalidInputError) as exc:
        SoftmaxRegression().preprocess(torch.zeros(2, 27, 29))
    assert str(exc.value) == "expected a batch of 28x28 = 784 pixel images, got shape [2, 27, 29]"


def test_softmax_preprocess_empty_batch_is_rejected():
    with pytest.raises(InvalidInputError) as exc:
        SoftmaxRegression().preprocess(torch.zeros(0, 784))
    assert str(exc.value) == "expected a batch of 28x28 = 784 pixel images, got shape [0, 784]"


def test_softmax_preprocess_out_of_range_pixels_are_rejected():
    with pytest.raises(InvalidInputError) as exc:
        SoftmaxRegression().preprocess(torch.full((1, 784), 256.0))
    assert str(exc.value) == "pixel values must lie in 0..255"


def test_softmax_preprocess_infinite_pixels_are_rejected():
    pixels = torch.zeros(1, 784)
    pixels[0, 5] = float("inf")
    with pytest.raises(InvalidInputError) as exc:
        SoftmaxRegression().preprocess(pixels)
    assert str(exc.value) == "pixel values must be finite numbers (no NaN or infinity)"


def test_logistic_preprocess_standardizes_with_config_mean_and_std():
    model = LogisticRegression(LogisticConfig(mean=(50_000.0, 30.0), std=(10_000.0, 5.0)))
    assert model.preprocess(torch.tensor([[60_000.0, 20.0]])).tolist() == [[1.0, -2.0]]


def test_logistic_preprocess_without_mean_and_std_keeps_raw_values():
    assert LogisticRegression().preprocess(torch.tensor([[60_000.0, 20.0]])).tolist() == [[60_000.0, 20.0]]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"mean": (0.0,), "std": (1.0,)}, "mean and std must both be empty or give one value per feature"),
        ({"mean": (0.0, 0.0), "std": ()}, "mean and std must both be empty or give one value per feature"),
        ({"mean": (0.0, 0.0), "std": (1.0, 0.0)}, "mean must be finite and std finite and positive"),
        ({"mean": (float("nan"), 0.0), "std": (1.0, 1.0)}, "mean must be finite and std finite and positive"),
        ({"feature_names": ("a", "a")}, "feature_names must be distinct"),
    ],
    ids=["short", "std-missing", "zero-std", "nan-mean", "duplicate-names"],
)
def test_logistic_config_refuses_inconsistent_standardization(fields, problem):
    with pytest.raises(ValueError, match=problem):
        LogisticConfig(**fields)


def test_logistic_raw_weights_give_the_same_logits_as_standardized_ones():
    torch.manual_seed(0)
    model = LogisticRegression(LogisticConfig(mean=(50_000.0, 30.0), std=(10_000.0, 5.0)))
    x = torch.tensor([[52_000.0, 31.0], [41_000.0, 60.0]], dtype=torch.float64)
    weight, bias = model.raw_weights()
    raw_logits = x @ torch.tensor(weight, dtype=torch.float64) + bias
    logits = model.linear(model.preprocess(x).float()).squeeze(-1).double()
    assert torch.allclose(logits, raw_logits, rtol=1e-5)


def test_logistic_checked_rows_refuse_non_finite_values_and_wrong_shapes():
    model = LogisticRegression()
    for rows in ([[1.0, float("nan")]], [[float("inf"), 1.0]]):
        with pytest.raises(InvalidInputError, match="finite"):
            model.checked_rows(rows)
    with pytest.raises(InvalidInputError, match="2 features"):
        model.checked_rows([[1.0, 2.0, 3.0]])
    assert [list(row) for row in model.checked_rows([[1e300, -1e300]])] == [[1e300, -1e300]]


def test_logistic_inference_follows_parameters_changed_in_place():
    model = LogisticRegression()
    features = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    with torch.inference_mode():
        before = model.predict_proba(features)
    with torch.no_grad():
        model.linear.weight.mul_(-1)
    with torch.inference_mode():
        after = model.predict_proba(features)
    assert after.tolist() == model.predict_proba(features).tolist()  # as computed outside inference mode
    assert after.tolist() != before.tolist()
