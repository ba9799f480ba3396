from api.helpers import metric_sample as sample
from api.helpers import upload
from conftest import make_softmax
from prometheus_client import CollectorRegistry, Histogram

import models
from app.observability.metrics import HistogramTally


def test_metrics_serves_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE http_requests_total counter" in response.text


def test_request_count_labels_the_route_template(client):
    labels = {"method": "GET", "route": "/models/{name}", "status": "200"}
    before = sample(client, "http_requests_total", **labels)
    client.get("/models/mnist")
    assert sample(client, "http_requests_total", **labels) == before + 1


def test_request_count_labels_unknown_paths_as_one_route(client):
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    before = sample(client, "http_requests_total", **labels)
    client.get("/no/such/path/12345")
    assert sample(client, "http_requests_total", **labels) == before + 1


def test_request_latency_observed_per_route(client):
    labels = {"method": "GET", "route": "/health/live", "status": "200"}
    before = sample(client, "http_request_duration_seconds_count", **labels)
    client.get("/health/live")
    assert sample(client, "http_request_duration_seconds_count", **labels) == before + 1


def test_in_flight_counts_only_the_scrape_after_other_requests(client):
    for _ in range(3):
        client.get("/health/live")
    assert sample(client, "http_requests_in_flight") == 1  # the scrape itself: counted, the others done


def test_inference_latency_observed_per_model(client):
    before = sample(client, "model_inference_duration_seconds_count", model="logistic", version="1")
    client.post("/predict/logistic", json={"features": [4.0, 3.0]})
    assert (
        sample(client, "model_inference_duration_seconds_count", model="logistic", version="1") == before + 1
    )


def test_predictions_counted_per_class(client):
    before = [
        sample(client, "model_predictions_total", model="logistic", version="1", label=y) for y in ("0", "1")
    ]
    response = client.post("/predict/logistic", json={"instances": [[4.0, 3.0], [0.0, 0.0], [5.0, 3.0]]})
    assert response.status_code == 200
    after = [
        sample(client, "model_predictions_total", model="logistic", version="1", label=y) for y in ("0", "1")
    ]
    assert after == [before[0] + 1, before[1] + 2]


def test_digit_predictions_counted_per_digit(client, png_digit):
    before = {
        d: sample(client, "model_predictions_total", model="mnist", version="1", label=str(d))
        for d in range(10)
    }
    response = client.post("/predict/mnist", files=upload(("d.png", png_digit())))
    assert response.status_code == 200
    digit = response.json()["predictions"][0]["digit"]
    after = {
        d: sample(client, "model_predictions_total", model="mnist", version="1", label=str(d))
        for d in range(10)
    }
    assert after == {**before, digit: before[digit] + 1}


def test_model_info_follows_a_new_version(client, app, model_repository):
    assert sample(client, "model_info", model="mnist", version="1", device="cpu") == 1
    models.save(make_softmax(seed=1), model_repository / "mnist" / "2.pt")
    client.portal.call(app.state.control.sync)
    assert sample(client, "model_info", model="mnist", version="2", device="cpu") == 1
    assert sample(client, "model_info", model="mnist", version="1", device="cpu") == 0
    assert sample(client, "model_load_duration_seconds", model="mnist", version="2") > 0


def test_histogram_tally_publishes_what_observing_each_value_gives():
    registry = CollectorRegistry()
    buckets = (0.001, 0.01, 0.1)
    tallied = Histogram("tallied_seconds", "t", ["route"], buckets=buckets, registry=registry)
    observed = Histogram("observed_seconds", "o", ["route"], buckets=buckets, registry=registry)
    tally = HistogramTally(tallied)
    amounts = [0.0, 0.001, 0.0011, 0.01, 0.5, 0.1, 7.0]
    for amount in amounts:
        tally.labels("/x").observe(amount)
        observed.labels("/x").observe(amount)
    tally.publish()
    tally.publish()  # nothing new: adds nothing

    def samples(name):
        [family] = [m for m in registry.collect() if m.name == name]
        return [
            (s.name.removeprefix(name), s.labels, s.value) for s in family.samples if "created" not in s.name
        ]

    assert samples("tallied_seconds") == samples("observed_seconds")
