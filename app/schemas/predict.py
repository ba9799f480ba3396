"""Bodies of the /predict endpoints."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Strict, Tag, model_validator

from app.schemas.examples import LOGISTIC_NAMED, LOGISTIC_SINGLE, PIXELS_SINGLE

# A JSON number and nothing else: strict, so "1" and true are refused rather than read as 1.0 (the README
# promises a strict API); integers are numbers too. Whether values are finite and in range is the model's
# one check (app/core/servables.py), the same for every front end, so the schema does not check it twice.
Number = Annotated[float, Strict()]
Pixel = Number
# Every list and mapping stops at its first invalid value: a megabyte of strings as features made
# 200,000 errors, 13 s on the event loop and a 20 MB answer; now one error.
FailFast = Field(fail_fast=True)
# One image as 28 rows of 28 pixels, or as 784 values row by row; the model checks the exact shape.
# One list of (value | row) rather than a union of two list types: a bad value then yields one error,
# not one per pixel from the branch that did not apply.
PixelImage = Annotated[list[Pixel | Annotated[list[Pixel], FailFast]], FailFast]


class _OneOrMany(BaseModel):
    """A request that carries either one input or a batch under ``instances``, never both."""

    model_config = ConfigDict(extra="forbid")
    # Class variables, not private attributes: those are copied into every instance, per request.
    _single_field: ClassVar[str]
    _most_brackets_per_instance: ClassVar[int]  # "[" in one valid instance, at most
    _most_commas_per_instance: ClassVar[int]  # "," in one valid instance and after it, at most

    @classmethod
    def least_instances(cls, body: bytes) -> int:
        """How many instances ``body`` holds at least, if it is valid, judged from its punctuation.

        Byte counts, so that a body holding far too large a batch is refused before it is parsed:
        150,000 two-feature instances fit in the JSON body limit and take a second to validate. No
        string in a valid body holds a bracket or a comma.
        """
        by_brackets = (body.count(b"[") - 1) // cls._most_brackets_per_instance
        return max(by_brackets, body.count(b",") // cls._most_commas_per_instance, 0)

    @model_validator(mode="after")
    def _exactly_one(self):
        single = getattr(self, self._single_field) is not None
        if single == (self.instances is not None):
            raise ValueError(
                f"send exactly one of '{self._single_field}' (one input) or 'instances' (a batch)"
            )
        if self.instances is not None and not self.instances:
            raise ValueError("'instances' is empty; send at least one instance")
        return self

    def batch(self) -> list:
        return self.instances if self.instances is not None else [getattr(self, self._single_field)]


# One instance: its values in the model's feature order (a JSON list), or by name (an object); GET
# /models/{name} lists the names. Told apart by the JSON type, so a bad value gets one error, located
# under 'list' or 'object', rather than one from each branch.
FeatureValues = Annotated[
    Annotated[list[Number], FailFast, Tag("list")] | Annotated[dict[str, Number], FailFast, Tag("object")],
    Discriminator(lambda value: "object" if isinstance(value, dict) else "list"),
]


class LogisticRequest(_OneOrMany):
    _single_field = "features"
    _most_brackets_per_instance = 1  # [x1, x2]
    _most_commas_per_instance = 1 << 30  # features may be many: brackets are the bound
    features: FeatureValues | None = Field(
        None,
        description='One instance: [x1, x2] in the model\'s feature order, or {"x1": 4, "x2": 3} by name.',
    )
    instances: Annotated[list[FeatureValues], FailFast] | None = Field(
        None, description="A batch of instances, each as for 'features'."
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [LOGISTIC_SINGLE, LOGISTIC_NAMED]}
    )

    @classmethod
    def least_instances(cls, body: bytes) -> int:
        """As for every request, with an instance by name counted by its '{' (the body is one more).

        A feature name holding a bracket or brace counts too high: such a batch meets the limit sooner.
        """
        return max(super().least_instances(body), body.count(b"[") + body.count(b"{") - 2)


class PixelsRequest(_OneOrMany):
    _single_field = "pixels"
    _most_brackets_per_instance = 29  # 28 rows in a list
    _most_commas_per_instance = 784  # 783 between 784 values, one after the image
    pixels: PixelImage | None = Field(
        None, description="One image, raw 0..255 pixels, white digit on black: 28x28 nested or 784 flat."
    )
    instances: Annotated[list[PixelImage], FailFast] | None = Field(
        None, description="A batch of images, each as for 'pixels'."
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PIXELS_SINGLE]})


class ModelRef(BaseModel):
    name: str = Field(examples=["mnist"])
    version: str = Field(examples=["20261124.120000"])
    architecture: str = Field(examples=["softmax_regression"])


class FeatureContribution(BaseModel):
    feature: str = Field(examples=["x1"])
    value: float = Field(description="The value sent.", examples=[4.0])
    contribution: float = Field(description="Its share of the logit: weight x value.", examples=[13.01])


class LogisticExplanation(BaseModel):
    """The logit split exactly: ``logit = bias + sum(contributions)``, and P(y=1) = sigmoid(logit)."""

    logit: float = Field(description="z = w.x + b, as the model computed it.", examples=[3.08])
    bias: float = Field(description="b: the logit when every feature is zero.", examples=[-14.48])
    contributions: list[FeatureContribution]


class LogisticPrediction(BaseModel):
    label: int = Field(description="1 when probability >= the model's threshold, else 0.", examples=[1])
    probability: float = Field(description="The model's P(y=1).", examples=[0.93])
    explanation: LogisticExplanation | None = Field(None, description="With include=explanation.")


class LogisticResponse(BaseModel):
    model: ModelRef
    predictions: list[LogisticPrediction] = Field(description="One per instance, in the order sent.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": {
                        "name": "logistic",
                        "version": "20261124.120000",
                        "architecture": "logistic_regression",
                    },
                    "predictions": [{"label": 1, "probability": 0.93}],
                }
            ]
        }
    )


class DigitInput(BaseModel):
    """The 28x28 image the model saw (after fitting), white digit on black: MNIST's raw pixels."""

    png: str = Field(description="A grey 28x28 PNG, base64-encoded.", examples=["iVBORw0KGgo..."])
    pixels: list[list[int]] = Field(description="The same pixels: 28 rows of 28 values, 0..255.")


class DigitContributions(BaseModel):
    """One digit's logit split exactly: ``logit = baseline + sum of every pixel's contribution``."""

    digit: int = Field(ge=0, le=9, examples=[7])
    logit: float = Field(description="The digit's score as the model computed it.", examples=[9.2])
    baseline: float = Field(description="The digit's logit for a blank (all-black) image.", examples=[-0.4])
    contributions: list[list[float]] = Field(
        description="28 rows of 28: what each pixel's ink adds to (or takes from) the logit."
    )


class DigitExplanation(BaseModel):
    predicted: DigitContributions
    runner_up: DigitContributions = Field(description="The second most probable digit.")


class DigitPrediction(BaseModel):
    digit: int = Field(ge=0, le=9, description="The most probable digit.", examples=[7])
    probabilities: list[float] = Field(
        description="P(digit) for 0..9; sums to 1.",
        min_length=10,
        max_length=10,
        examples=[[0.001, 0.002, 0.01, 0.02, 0.001, 0.005, 0.001, 0.95, 0.005, 0.005]],
    )
    input: DigitInput | None = Field(None, description="With include=input.")
    explanation: DigitExplanation | None = Field(None, description="With include=explanation.")


class DigitResponse(BaseModel):
    model: ModelRef
    predictions: list[DigitPrediction] = Field(description="One per image, in the order sent.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": {
                        "name": "mnist",
                        "version": "20261124.120000",
                        "architecture": "softmax_regression",
                    },
                    "predictions": [
                        {
                            "digit": 7,
                            "probabilities": [
                                0.001,
                                0.002,
                                0.01,
                                0.02,
                                0.001,
                                0.005,
                                0.001,
                                0.95,
                                0.005,
                                0.005,
                            ],
                        }
                    ],
                }
            ]
        }
    )


class DigitTemplate(BaseModel):
    digit: int = Field(ge=0, le=9, examples=[7])
    bias: float = Field(examples=[-0.2])
    weights: list[list[float]] = Field(
        description="28 rows of 28: how much ink at each pixel raises (+) or lowers (-) this digit's logit."
    )


class FeatureWeight(BaseModel):
    feature: str = Field(examples=["x1"])
    weight: float = Field(examples=[3.253])


class ModelWeights(BaseModel):
    """A linear model's parameters, for explaining it: MNIST's ten digit templates, or logistic's weights."""

    model: ModelRef
    templates: list[DigitTemplate] | None = Field(None, description="Softmax regression: one per digit.")
    features: list[FeatureWeight] | None = Field(None, description="Logistic regression: w, per feature.")
    bias: float | None = Field(None, description="Logistic regression: b, the logit when every feature is 0.")
    threshold: float | None = Field(None, description="Logistic regression: label 1 when P(y=1) >= this.")
