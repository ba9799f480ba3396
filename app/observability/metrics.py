"""Every Prometheus metric the service exports, and the functions that update them.

With several uvicorn workers, each is its own process: prometheus-client's multiprocess mode (turned on by
``PROMETHEUS_MULTIPROC_DIR``, which ``digit-serve`` sets for workers > 1) keeps values in files there, and
/metrics adds up every worker's. Gauges say how: ``livesum`` adds live workers, ``livemax`` takes the
largest. Info metrics do not work in that mode, so model info is a gauge with labels, valued 1.

What is counted or timed on every request (requests, predictions, requests in flight, and the latency
histograms' buckets) is tallied in plain ints and published to prometheus-client before each scrape (and
every second with several workers).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from app.core.servables import Servable


class CounterTally:
    """A labelled Counter's increments, kept as plain ints where they happen and added to it in bulk.

    A prometheus-client increment is four Python calls and a lock; a request made four of them, about 3 %
    of a small prediction's instructions. Adding one to a dict entry costs next to nothing. ``publish()``
    moves what has been counted into the Counter: see publish_tallies() for when.
    """

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.counts: defaultdict[tuple[str, ...], int] = defaultdict(int)  # label values -> not yet published

    def publish(self) -> None:
        # Both this and the counting run on the event loop, so nothing is counted during the swap.
        counts, self.counts = self.counts, defaultdict(int)
        for labels, count in counts.items():
            self.counter.labels(*labels).inc(count)


class GaugeTally:
    """An unlabelled Gauge's value, kept as a plain int and set on the Gauge by ``publish()``."""

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self.value = 0

    def publish(self) -> None:
        self.gauge.set(self.value)


class Observations:
    """One series' histogram observations not yet published: a count per bucket, and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        # The first bucket whose upper bound is >= amount, as Histogram.observe picks it.
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1
        self.sum += amount


class HistogramTally:
    """A labelled Histogram's observations, counted per bucket where they happen and added to it in bulk.

    Histogram.observe is five Python calls and two locks; counting in a list is one call. ``publish()``
    adds each bucket's count and the sum to the very values observe() adds to (prometheus-client's
    ``_buckets`` and ``_sum`` of the child; tests/test_metrics.py checks the result matches observe's),
    so the exposition, and the multiprocess files, hold what observing each value would have put there.
    """

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self.bounds = tuple(histogram._upper_bounds)  # the last is +Inf, so every amount has a bucket
        self._series: dict[tuple[str, ...], tuple[Observations, Histogram]] = {}

    def labels(self, *values: str) -> Observations:
        """The observations of one series (the same object every time: hold on to it)."""
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = Observations(self.bounds), self.histogram.labels(*values)
        return series[0]

    def publish(self) -> None:
        # Both this and the observing run on the event loop, so nothing is observed during the loop.
        for pending, child in self._series.values():
            counts = pending.counts
            for bucket, count in enumerate(counts):
                if count:
                    child._buckets[bucket].inc(count)
                    counts[bucket] = 0
            if pending.sum:
                child._sum.inc(pending.sum)
                pending.sum = 0.0


# Requests here take from a tenth of a millisecond (JSON) to tens of milliseconds (a batch of images).
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = HistogramTally(
    Histogram(
        "http_request_duration_seconds",
        "Time from request start to response end, by method, route and status.",
        ["method", "route", "status"],
        buckets=_LATENCY_BUCKETS,
    )
)
HTTP_IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being handled now.", multiprocess_mode="livesum")
INFERENCE_SECONDS = HistogramTally(
    Histogram(
        "model_inference_duration_seconds",
        "Time spent in the model's forward pass, per request, by model and version.",
        ["model", "version"],
        buckets=_LATENCY_BUCKETS,
    )
)
PREDICTIONS = Counter(
    "model_predictions_total",
    "Predictions made, by model, version and predicted class.",
    ["model", "version", "label"],
)
MODEL_LOAD_SECONDS = Gauge(
    "model_load_duration_seconds",
    "Time the serving checkpoint of each model version took to load.",
    ["model", "version"],
    multiprocess_mode="livemax",
)
MODEL_INFO = Gauge(
    "model_info",
    "1 for each model version serving now (0 for one that served before and was unloaded or replaced).",
    ["model", "version", "device"],
    multiprocess_mode="livemax",
)
MODEL_LOAD_FAILURES = Counter(
    "model_load_failures_total",
    "Checkpoint files refused (unreadable, corrupt, wrong shapes, NaN weights, ...), by model and version.",
    ["model", "version"],
)
GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "gRPC calls answered, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = HistogramTally(
    Histogram(
        "grpc_server_handling_seconds",
        "Time from a gRPC call's start to its answer, by service and method.",
        ["grpc_service", "grpc_method"],
        buckets=_LATENCY_BUCKETS,
    )
)


REQUESTS_IN_FLIGHT = GaugeTally(HTTP_IN_FLIGHT)
REQUEST_COUNTS = CounterTally(HTTP_REQUESTS)  # by (method, route, status)
PREDICTION_COUNTS = CounterTally(PREDICTIONS)  # by (model, version, label)
RPC_COUNTS = CounterTally(GRPC_HANDLED)  # by (service, method, code)


def publish_tallies() -> None:
    """Hand the tallies to prometheus-client: before each scrape, and see worker_metrics()."""
    for tally in (
        REQUESTS_IN_FLIGHT,
        REQUEST_COUNTS,
        PREDICTION_COUNTS,
        RPC_COUNTS,
        HTTP_REQUEST_SECONDS,
        INFERENCE_SECONDS,
        GRPC_HANDLING_SECONDS,
    ):
        tally.publish()


async def _publish_tallies_every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        publish_tallies()


def record_loaded(servable: Servable, previous: Servable | None, load_seconds: float | None) -> None:
    """``servable`` serves its model version now, in place of ``previous`` (a reload of that version)."""
    current = (servable.name, servable.version, str(servable.checkpoint.device))
    if previous is not None:
        record_unloaded(previous)
    MODEL_INFO.labels(*current).set(1)
    if load_seconds is not None:
        MODEL_LOAD_SECONDS.labels(servable.name, servable.version).set(load_seconds)


def record_unloaded(servable: Servable) -> None:
    MODEL_INFO.labels(servable.name, servable.version, str(servable.checkpoint.device)).set(0)


def record_load_failed(name: str, version: str) -> None:
    MODEL_LOAD_FAILURES.labels(name, version).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def render() -> tuple[bytes, str]:
    """The exposition text of every metric (summed over workers in multiprocess mode), and its type."""
    publish_tallies()
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@contextlib.asynccontextmanager
async def worker_metrics(publish_every_s: float = 1.0) -> AsyncIterator[None]:
    """This worker's share of the metrics while the app runs.

    In multiprocess mode a scrape may reach another worker, so the tallies are published every
    ``publish_every_s`` seconds, and once more at the end, before this worker's live gauges (in-flight,
    model info) are dropped from the totals. One worker publishes when it is scraped, which is enough.
    """
    if not multiprocess_dir():
        yield
        return
    publisher = asyncio.create_task(_publish_tallies_every(publish_every_s))
    try:
        yield
    finally:
        publisher.cancel()
        publish_tallies()  # its last counts outlive it
        multiprocess.mark_process_dead(os.getpid())
