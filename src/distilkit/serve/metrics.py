"""Prometheus metrics of one server: requests, latency, batch sizes, queue depth, refusals.

Each app has its own registry (not the process-global one), so two servers in one process (tests) do not share
counters. Endpoint labels are the app's own route paths, a path with a model's name in it by its template
(``/v2/models/{name}/infer``); any other path is counted as "other", so a client probing random URLs cannot grow the
number of series without bound.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from distilkit.serve.batcher import Batcher

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """The metric objects, and the text exposition `/metrics` returns."""

    def __init__(self, endpoints: set[str]):
        self.endpoints = {e for e in endpoints if "{name}" not in e}
        self.templates = [
            (re.compile("^" + re.escape(e).replace(re.escape("{name}"), "[^/]+") + "$"), e)
            for e in sorted(endpoints)
            if "{name}" in e
        ]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "distilkit_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "distilkit_request_seconds",
            "Request latency in seconds, arrival to response",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "distilkit_batch_size", "Texts per forward pass", ["model"], buckets=BATCH_BUCKETS, registry=self.registry
        )
        self.batch_seconds = Histogram(
            "distilkit_batch_seconds",
            "Seconds per forward pass (tokenising included)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge("distilkit_queue_texts", "Texts waiting for a batch", ["model"], registry=self.registry)
        self.rejected = Counter(
            "distilkit_rejected", "Requests refused before inference", ["model", "reason"], registry=self.registry
        )

    def endpoint(self, path: str) -> str:
        if path in self.endpoints:
            return path
        return next((template for pattern, template in self.templates if pattern.match(path)), "other")

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        endpoint = self.endpoint(path)
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def batch_callback(self, model: str):
        """What a batcher calls after each forward pass."""
        size_child, seconds_child = self.batch_size.labels(model), self.batch_seconds.labels(model)

        def on_batch(size: int, seconds: float) -> None:
            size_child.observe(size)
            seconds_child.observe(seconds)

        return on_batch

    def watch_queue(self, batcher: Batcher) -> None:
        """The queue gauge reads the batcher's count when scraped."""
        self.queue.labels(batcher.name).set_function(lambda: batcher.stats.queue_texts)

    def render(self) -> bytes:
        return generate_latest(self.registry)
