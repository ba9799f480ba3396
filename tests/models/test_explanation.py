import pytest
import torch

from models import InvalidInputError, LogisticRegression, SoftmaxRegression


def test_softmax_contributions_plus_baseline_sum_to_the_logits():
    model = SoftmaxRegression().eval()
    pixels = torch.randint(0, 256, (5, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    explanation = model.explain(pixels)
    logits = model(model.preprocess(pixels))
    explained = explanation.baseline + explanation.contributions.sum(-1)
    torch.testing.assert_close(explained.float(), logits.gather(1, explanation.classes), rtol=0, atol=1e-5)


def test_softmax_explains_the_predicted_digit_then_the_runner_up():
    model = SoftmaxRegression().eval()
    pixels = torch.randint(0, 256, (3, 784), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    explanation = model.explain(pixels)
    assert torch.equal(explanation.classes, model(model.preprocess(pixels)).topk(2).indices)


def test_softmax_blank_pixels_contribute_nothing():
    model = SoftmaxRegression().eval()
    pixels = torch.zeros(1, 28, 28, dtype=torch.uint8)
    pixels[0, 10:18, 12:16] = 200
    contributions = model.explain(pixels).contributions[0].reshape(2, 28, 28)
    assert bool((contributions[:, pixels[0] == 0] == 0).all())
    assert bool((contributions[:, pixels[0] > 0] != 0).all())


def test_logistic_contributions_plus_bias_sum_to_the_logit():
    model = LogisticRegression().eval()
    features = torch.tensor([[4.0, 3.0], [1.0, -2.5]])
    explanation = model.explain(features)
    logit = model.logits(model.preprocess(features))
    torch.testing.assert_close(
        explanation.baseline + explanation.contributions.sum(-1), logit, rtol=0, atol=1e-9
    )
    torch.testing.assert_close(explanation.baseline[:, 0].float(), model.linear.bias.expand(2).detach())
    torch.testing.assert_close(
        explanation.contributions[:, 0].float(), (model.linear.weight * features).detach()
    )


def _toy_logistic() -> LogisticRegression:
    model = LogisticRegression().eval()
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[3.0, 1.5]]))
        model.linear.bias.zero_()
    return model


def test_logistic_explain_refuses_a_share_beyond_float64():
    features = torch.tensor([[1.0, 2.0], [1e308, -1e308]], dtype=torch.float64)  # 3 x 1e308 overflows
    with pytest.raises(InvalidInputError) as raised:
        _toy_logistic().explain(features)
    assert str(raised.value) == (
        "instance 1 cannot be explained: the share of feature 'x1' in the logit (weight x value) exceeds "
        "float64's range"
    )


def test_logistic_explain_refuses_a_logit_beyond_float64():
    # Shares of 1.5e308 and 7.5e307, each finite; their sum is not.
    features = torch.tensor([[5e307, 5e307]], dtype=torch.float64)
    with pytest.raises(InvalidInputError) as raised:
        _toy_logistic().explain(features)
    assert str(raised.value) == "instance 0 cannot be explained: its logit exceeds float64's range"


def test_logistic_explain_takes_the_largest_shares_that_add_up():
    features = torch.tensor([[5e307, -5e307]], dtype=torch.float64)
    explanation = _toy_logistic().explain(features)
    assert explanation.logits.item() == 7.5e307
    assert explanation.contributions[0, 0].tolist() == [1.5e308, -7.5e307]
