"""GET /models/{name}/weights: what a linear model looks for, for the page's explanation view and for you."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import DataPlaneDep
from app.api.routes.predict import _model_ref as model_ref
from app.schemas.errors import error_responses
from app.schemas.predict import DigitTemplate, FeatureWeight, ModelWeights
from models import LogisticRegression, SoftmaxRegression

router = APIRouter(prefix="/models", tags=["models"])


@router.get(
    "/{name}/weights",
    summary="A model's weights: MNIST's ten digit templates, or the logistic regression's w and b",
    response_model=ModelWeights,
    response_model_exclude_none=True,
    responses=error_responses({404: "No model of that name.", 503: "The model is not loaded."}),
)
async def get_weights(name: str, dataplane: DataPlaneDep) -> ModelWeights:
    servable = dataplane.servable(name)
    model, ref = servable.model, model_ref(servable)
    if isinstance(model, SoftmaxRegression):
        biases = model.linear.bias.detach().cpu().tolist()
        templates = model.templates().cpu().tolist()
        return ModelWeights(
            model=ref,
            templates=[
                DigitTemplate(digit=d, bias=b, weights=w)
                for d, (b, w) in enumerate(zip(biases, templates, strict=True))
            ],
        )
    assert isinstance(model, LogisticRegression)
    weights, bias = model.raw_weights()  # per raw unit of each feature, standardisation folded in
    return ModelWeights(
        model=ref,
        features=[
            FeatureWeight(feature=n, weight=w)
            for n, w in zip(model.config.feature_names, weights, strict=True)
        ],
        bias=bias,
        threshold=model.config.threshold,
    )
