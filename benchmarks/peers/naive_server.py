"""The naive baseline: what one writes in ten minutes, with no validation, limits or metrics.

    uvicorn benchmarks.peers.naive_server:app --port 8001

Reads the same checkpoints as the service (SERVE_MNIST_CHECKPOINT, SERVE_LOGISTIC_CHECKPOINT) so the
models, and their cost, are identical; everything around them is the bare minimum.
"""

from __future__ import annotations

import io
import os

import torch
from fastapi import FastAPI, UploadFile
from PIL import Image
from pydantic import BaseModel

import models

mnist = models.load(os.environ.get("SERVE_MNIST_CHECKPOINT", "checkpoints/mnist.pt")).model
logistic = models.load(os.environ.get("SERVE_LOGISTIC_CHECKPOINT", "checkpoints/logistic.pt")).model

app = FastAPI()


class Features(BaseModel):
    features: list[float]


@app.post("/predict/mnist")
async def predict_mnist(file: UploadFile) -> dict:
    image = Image.open(io.BytesIO(await file.read())).convert("L")
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).float() / 255
    with torch.inference_mode():
        probabilities = torch.softmax(mnist.linear(pixels.view(1, -1)), dim=-1)[0]
    return {"digit": int(probabilities.argmax()), "probabilities": probabilities.tolist()}


@app.post("/predict/logistic")
async def predict_logistic(body: Features) -> dict:
    with torch.inference_mode():
        probability = float(torch.sigmoid(logistic.linear(torch.tensor([body.features]))))
    return {"probability": probability, "label": int(probability >= 0.5)}


@app.get("/health/ready")
async def ready() -> dict:
    return {"status": "ready"}
