"""Metrics with several uvicorn workers: a scrape reaches one worker and shows every worker's counts."""

import time

import httpx
from api.helpers import metric_sample
from live_server import serve_process

REQUESTS = 24


def test_metrics_scrape_sums_every_workers_counts(logistic_checkpoint, mnist_checkpoint, tmp_path):
    env = {
        "SERVE_LOGISTIC_CHECKPOINT": str(logistic_checkpoint),
        "SERVE_MNIST_CHECKPOINT": str(mnist_checkpoint),
        "SERVE_WORKERS": "2",
        "SERVE_ACCESS_LOG": "false",
    }
    with serve_process(env, tmp_path / "serve.log") as (_, port):
        url = f"http://127.0.0.1:{port}"
        for _ in range(REQUESTS):  # a connection each, so that both workers take some
            response = httpx.post(f"{url}/predict/logistic", json={"features": [4.0, 3.0]})
            assert response.status_code == 200
        time.sleep(1.5)  # a worker publishes its counts every second
        with httpx.Client(base_url=url) as client:
            predictions = metric_sample(client, "model_predictions_total", model="logistic", label="1")
            labels = {"method": "POST", "route": "/predict/logistic", "status": "200"}
            requests = metric_sample(client, "http_requests_total", **labels)
    assert (predictions, requests) == (REQUESTS, REQUESTS)
