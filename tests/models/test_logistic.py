"""LogisticRegression's serving path gives bit-identical results to its plain formulas (issue 16)."""

import math

import pytest
import torch

from models import FrozenLogistic, InvalidInputError, LogisticConfig, LogisticRegression
from models.logistic import stacked

FLOAT64_MAX = torch.finfo(torch.float64).max
TOY_X = [[1, 2], [2, 3], [3, 1], [4, 3], [5, 3], [6, 2]]  # the tutorial's set, as ints

CONFIGS = {
    "plain": LogisticConfig(),
    "standardized": LogisticConfig(mean=(3.5, 2.3), std=(1.7, 0.8)),
    "tiny_std": LogisticConfig(mean=(-2.0, 1e10), std=(1e-3, 1e-200)),
    "one_feature": LogisticConfig(in_features=1, feature_names=("x",)),
    "five_standardized": LogisticConfig(
        in_features=5,
        feature_names=tuple("abcde"),
        mean=(0.0, 1.0, -1.0, 1e5, 3.0),
        std=(1.0, 2.0, 0.5, 1e3, 7.0),
    ),
}


def reference_rows(rows):
    """The batch as torch.tensor makes it from nested lists."""
    return torch.tensor(rows, dtype=torch.float64)


def reference_preprocess(model, features):
    config = model.config
    x = features.to(torch.float64)
    if config.standardized:
        mean = torch.tensor(config.mean, dtype=torch.float64)
        std = torch.tensor(config.std, dtype=torch.float64)
        x = ((x - mean) / std).clamp(-FLOAT64_MAX, FLOAT64_MAX)
    return x


def reference_logits(model, x):
    scale = x.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
    weight_t = model.linear.weight.to(torch.float64).T
    bias = model.linear.bias.to(torch.float64)
    return (x / scale) @ weight_t * scale + bias


def reference_proba(model, features):
    """P(y=1) by the formulas as first written: new tensors at every step, no caches."""
    logits = reference_logits(model, reference_preprocess(model, features))
    return torch.sigmoid(logits).squeeze(-1).to(torch.float32)


def model_for(config, weight_scale, seed):
    torch.manual_seed(seed)
    model = LogisticRegression(config)
    with torch.no_grad():
        model.linear.weight.mul_(weight_scale)
        model.linear.bias.mul_(weight_scale)
    return model.eval().requires_grad_(False)


def edge_rows(width, seed):
    """Random rows at every magnitude, and the values that break naive arithmetic."""
    generator = torch.Generator().manual_seed(seed)
    special = [0.0, -0.0, 1.0, -1.0, 0.5, 5e-324, -5e-324, 1e-300, 1e300, -1e300, FLOAT64_MAX, -FLOAT64_MAX]
    special += [FLOAT64_MAX * 0.999, -FLOAT64_MAX * 0.999, 3e38, -3e38, 1e308, -1e308, 2.0**53 + 1]
    rows = [[value] * width for value in special]
    rows += [[special[(i * 7 + j * 3) % len(special)] for j in range(width)] for i in range(40)]
    for exponent in (-300, -20, -3, 0, 1, 3, 20, 150, 300, 307):
        rows += (torch.randn(8, width, generator=generator, dtype=torch.float64) * 10.0**exponent).tolist()
    return rows


def batches(rows):
    """Every row alone, and runs of several batch sizes."""
    yield from ([row] for row in rows)
    for size in (2, 3, 7, 64):
        yield from (rows[i : i + size] for i in range(0, len(rows), size))


def served(model, rows):
    """What the servable computes from JSON rows."""
    with torch.inference_mode():
        batch = stacked(model.checked_rows(model.config.feature_rows(rows)), model.config.in_features)
        return model.predict_proba(model.preprocess(batch, known_finite=True))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("weight_scale", [1.0, 1e3, 1e-3])
def test_logistic_predict_proba_is_bit_identical_to_the_formulas(name, weight_scale):
    config = CONFIGS[name]
    model = model_for(config, weight_scale, seed=len(name))
    for rows in batches(edge_rows(config.in_features, seed=3)):
        expected = reference_proba(model, reference_rows(rows))
        got = served(model, rows)
        assert got.dtype == torch.float32
        assert got.shape == (len(rows),)
        assert torch.equal(got, expected), rows
        assert model.labels(got).tolist() == [int(p >= config.threshold) for p in expected.tolist()]


@pytest.mark.parametrize("name", CONFIGS)
def test_logistic_preprocess_and_logits_are_bit_identical_to_the_formulas(name):
    config = CONFIGS[name]
    model = model_for(config, 1e3, seed=7)
    for rows in batches(edge_rows(config.in_features, seed=8)):
        with torch.inference_mode():
            inputs = model.preprocess(
                stacked(model.checked_rows(rows), config.in_features), known_finite=True
            )
            logits = model.logits(inputs)
        expected = reference_preprocess(model, reference_rows(rows))
        assert torch.equal(inputs, expected), rows
        assert torch.equal(logits, reference_logits(model, expected)), rows


@pytest.mark.parametrize("name", ["plain", "standardized"])
def test_logistic_toy_set_is_bit_identical_to_the_formulas(name):
    model = model_for(CONFIGS[name], 1.0, seed=0)
    assert torch.equal(served(model, TOY_X), reference_proba(model, reference_rows(TOY_X)))
    for row in TOY_X:
        assert torch.equal(served(model, [row]), reference_proba(model, reference_rows([row])))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logistic_tensor_input_is_bit_identical_and_left_unchanged(dtype):
    model = model_for(CONFIGS["standardized"], 1.0, seed=1)
    rows = edge_rows(2, seed=4)
    if dtype == torch.float32:  # float32 holds up to 3.4e38
        rows = [row for row in rows if all(abs(value) <= 3e38 for value in row)]
    features = reference_rows(rows).to(dtype)
    before = features.clone()
    with torch.inference_mode():
        got = model.predict_proba(model.preprocess(features))
    assert torch.equal(got, reference_proba(model, features))
    assert torch.equal(features, before)


def test_logistic_predict_proba_outside_inference_mode_matches_the_formulas():
    model = model_for(CONFIGS["plain"], 1e3, seed=2)
    features = reference_rows(edge_rows(2, seed=5))
    assert torch.equal(model.predict_proba(model.preprocess(features)), reference_proba(model, features))


def test_logistic_predict_proba_follows_a_weight_change():
    model = model_for(CONFIGS["plain"], 1.0, seed=3)
    features = reference_rows(TOY_X)
    with torch.inference_mode():
        before = model.predict_proba(features)
    with torch.no_grad():
        model.linear.weight.mul_(-2.0)
    with torch.inference_mode():
        after = model.predict_proba(features)
    assert torch.equal(after, reference_proba(model, features))
    assert not torch.equal(after, before)


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("weight_scale", [1.0, 1e3, 1e-3, 1e30])
def test_frozen_logistic_is_bit_identical_to_the_formulas(name, weight_scale):
    config = CONFIGS[name]
    model = model_for(config, weight_scale, seed=len(name) + 1)
    frozen = FrozenLogistic(model)
    width = config.in_features
    for rows in batches([*edge_rows(width, seed=9), [3] * width, [True] * width]):  # ints too, as floats
        with torch.inference_mode():
            got = frozen(model.checked_rows(rows))
        assert got == reference_proba(model, reference_rows(rows)).tolist(), rows


@pytest.mark.parametrize("count", [FrozenLogistic.MOST_VALUES // 2, FrozenLogistic.MOST_VALUES // 2 + 1])
def test_frozen_logistic_either_side_of_its_python_float_limit_is_bit_identical(count):
    model = model_for(CONFIGS["standardized"], 1e3, seed=4)
    rows = (edge_rows(2, seed=10) * 3)[:count]  # 2 features: count rows hold 2 x count values
    with torch.inference_mode():
        got = FrozenLogistic(model)(model.checked_rows(rows))
    assert got == reference_proba(model, reference_rows(rows)).tolist()


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_frozen_logistic_sigmoid_of_a_few_rows_is_bit_identical_at_every_magnitude(count):
    model = model_for(CONFIGS["one_feature"], 1.0, seed=7)
    with torch.no_grad():  # logit = x exactly: the sigmoid alone is under test
        model.linear.weight.fill_(1.0)
        model.linear.bias.zero_()
    generator = torch.Generator().manual_seed(12)
    logits = [-746.0, -745.1, -709.8, -709.7, -36.8, 36.8, 709.8, 746.0, 0.0, -0.0, 5e-324]
    for exponent in range(-20, 4):
        logits += (torch.randn(400, generator=generator, dtype=torch.float64) * 10.0**exponent).tolist()
    frozen = FrozenLogistic(model)
    for start in range(0, len(logits), count):
        rows = [[logit] for logit in logits[start : start + count]]
        assert frozen(model.checked_rows(rows)) == reference_proba(model, reference_rows(rows)).tolist(), rows


def test_frozen_logistic_float32_tensor_is_bit_identical():
    model = model_for(CONFIGS["standardized"], 1.0, seed=5)
    rows = [row for row in edge_rows(2, seed=11) if all(abs(value) <= 3e38 for value in row)]
    features = reference_rows(rows).to(torch.float32)  # as an OIP FP32 input arrives
    for start in range(0, len(features), 7):
        part = features[start : start + 7]
        assert (
            FrozenLogistic(model)(model.checked_rows(part.tolist())) == reference_proba(model, part).tolist()
        )


@pytest.mark.parametrize("rows", [TOY_X, TOY_X * 50], ids=["few", "many"])
def test_frozen_logistic_keeps_the_weights_it_was_made_with(rows):
    model = model_for(CONFIGS["plain"], 1.0, seed=6)
    features = reference_rows(rows)
    expected = reference_proba(model, features).tolist()
    frozen = FrozenLogistic(model)
    with torch.no_grad():
        model.linear.weight.mul_(-2.0)
        model.linear.bias.add_(1.0)
    assert frozen(model.checked_rows(rows)) == expected
    assert (
        FrozenLogistic(model)(model.checked_rows(rows))
        == reference_proba(model, features).tolist()
        != expected
    )


@pytest.mark.parametrize("name", CONFIGS)
def test_logistic_checked_rows_stacked_equal_torch_tensor_of_the_rows(name):
    config = CONFIGS[name]
    rows = [*edge_rows(config.in_features, seed=6), [1] * config.in_features, [True] * config.in_features]
    for part in batches(rows):
        got = stacked(LogisticRegression(config).checked_rows(part), config.in_features)
        assert got.dtype == torch.float64
        assert torch.equal(got, reference_rows(part))


def test_logistic_checked_rows_hold_floats():
    (row,) = LogisticRegression().checked_rows([[3, True]])
    assert [(value, type(value)) for value in row] == [(3.0, float), (1.0, float)]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_logistic_checked_rows_non_finite_value_is_invalid(bad):
    with pytest.raises(InvalidInputError, match="must be finite"):
        LogisticRegression().checked_rows([[1.0, 2.0], [bad, 3.0]])


def test_logistic_checked_rows_empty_is_invalid():
    with pytest.raises(InvalidInputError, match=r"2 features each, got shape \[0\]"):
        LogisticRegression().checked_rows([])


@pytest.mark.parametrize("rows", [[[1.0, 2.0], [3.0]], [[1.0, 2.0, 3.0], [4.0]]])
def test_logistic_checked_rows_ragged_rows_are_refused_by_torch(rows):
    # feature_rows refuses these with the feature names first; checked_rows alone leaves it to torch.tensor.
    with pytest.raises(ValueError, match="expected sequence of length"):
        LogisticRegression().checked_rows(rows)


def test_logistic_checked_rows_huge_integer_is_refused():
    with pytest.raises(OverflowError, match="too large to convert to float"):
        LogisticRegression().checked_rows([[10**400, 1.0]])
