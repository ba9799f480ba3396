"""Metrics with several uvicorn workers: a scrape reaches one worker and shows every worker's counts."""

import time

import httpx
from api.helpers import metric_sample
from live_server import serve_process

REQUESTS = 24
ROUTE = {"method": "POST", "route": "/predict/logistic", "status": "200"}


def test_metrics_scrape_sums_every_workers_counts(serve_env, tmp_path):
    env = {**serve_env, "SERVE_WORKERS": "2", "SERVE_ACCESS_LOG": "false"}
    with serve_process(env, tmp_path / "serve.log") as (_, port):
        url = f"http://127.0.0.1:{port}"
        for _ in range(REQUESTS):  # a connection each, so that both workers take some
            response = httpx.post(f"{url}/predict/logistic", json={"features": [4.0, 3.0]})
            assert response.status_code == 200
        # The worker that is not scraped publishes its counts every second: wait for them, up to 10 s.
        with httpx.Client(base_url=url) as client:
            deadline = time.monotonic() + 10
            while (counts := _counts(client)) != (REQUESTS, REQUESTS) and time.monotonic() < deadline:
                time.sleep(0.2)
    assert counts == (REQUESTS, REQUESTS)


def _counts(client: httpx.Client) -> tuple[float, float]:
    """Logistic predictions of label 1, and answered logistic requests, as a scrape shows them."""
    return (
        metric_sample(client, "model_predictions_total", model="logistic", version="1", label="1"),
        metric_sample(client, "http_requests_total", **ROUTE),
    )


def test_metrics_folder_made_for_workers_is_removed_at_a_clean_exit(serve_env, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**serve_env, "SERVE_WORKERS": "2", "TMPDIR": str(temp)}
    with serve_process(env, tmp_path / "serve.log") as (process, _):
        assert [p.name[:14] for p in temp.iterdir()] == ["serve-metrics-"]
    assert process.returncode == 0
    assert list(temp.iterdir()) == []
