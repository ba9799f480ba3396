"""The LitServe peer, doing the naive endpoint's job: a 28x28 image upload -> digit and probabilities.

    pip install '.[bench]'
    python benchmarks/peers/litserve_server.py --port 8002

LitServe's default settings (one worker, no batching), as a newcomer would run it.
"""

from __future__ import annotations

import argparse
import io
import os

import litserve as ls
import torch
from PIL import Image

import models


class MnistAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.model = models.load(os.environ.get("SERVE_MNIST_CHECKPOINT", "checkpoints/mnist.pt")).model

    def decode_request(self, request) -> torch.Tensor:
        image = Image.open(io.BytesIO(request["file"].file.read())).convert("L")
        return torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).float() / 255

    def predict(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(self.model.linear(pixels.view(1, -1)), dim=-1)[0]

    def encode_response(self, probabilities: torch.Tensor) -> dict:
        return {"digit": int(probabilities.argmax()), "probabilities": probabilities.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    api = MnistAPI(api_path="/predict/mnist")
    server = ls.LitServer(api, accelerator="cpu", healthcheck_path="/health/ready")
    server.run(port=args.port, generate_client_file=False)  # it would write an unrelated client.py


if __name__ == "__main__":
    main()
