"""Prometheus metrics, one registry per process (passed in, never global)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# The classic text format that every Prometheus version and agent reads; our metric names need
# none of the escaping that version 1.0.0 of the format adds.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# The handler answers in microseconds; the top buckets catch pathological queries.
LATENCY_BUCKETS = (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.25)


class Metrics:
    """Requests, errors, handler latency and platform retries, labelled by platform; the store's
    errors and state."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "http_status_bot_requests",
            "Queries answered, by platform and reply kind",
            ["platform", "kind"],
            registry=self.registry,
        )
        self._errors = Counter(
            "http_status_bot_errors",
            "Failures while answering or delivering, by platform and stage",
            ["platform", "stage"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "http_status_bot_handler_seconds",
            "Time spent inside the shared handler",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._retries = Counter(
            "http_status_bot_platform_retries",
            "Platform API calls retried, by platform and reason",
            ["platform", "reason"],
            registry=self.registry,
        )

        self._connected = Gauge(
            "http_status_bot_adapter_connected",
            "1 while the platform adapter is connected and serving, else 0",
            ["platform"],
            registry=self.registry,
        )
        self._restarts = Counter(
            "http_status_bot_adapter_restarts",
            "Adapters restarted by the runtime after staying disconnected",
            ["platform"],
            registry=self.registry,
        )

        self._storage_errors = Counter(
            "http_status_bot_storage_errors",
            "Store operations that failed or timed out (get, set, record, claim, done, probe...)",
            ["operation"],
            registry=self.registry,
        )
        self._storage_up = Gauge(
            "http_status_bot_storage_up",
            "1 while the store (SQLite or PostgreSQL) answers, 0 while it fails",
            registry=self.registry,
        )

        # labels() hashes and validates its arguments on every call (about 3 µs): the children of
        # the hot path are looked up once per label set.
        self._request_children: dict[tuple[str, str], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def observe(self, platform: str, kind: str, seconds: float) -> None:
        """Count one answered query and the time the handler took."""
        counter = self._request_children.get((platform, kind))
        if counter is None:
            counter = self._requests.labels(platform=platform, kind=kind)
            self._request_children[(platform, kind)] = counter
        histogram = self._latency_children.get(platform)
        if histogram is None:
            histogram = self._latency_children[platform] = self._latency.labels(platform=platform)
        counter.inc()
        histogram.observe(seconds)

    def error(self, platform: str, stage: str) -> None:
        """Count one failure (``handler``, ``send``, ``connection``...)."""
        self._errors.labels(platform=platform, stage=stage).inc()

    def retry(self, platform: str, reason: str) -> None:
        """Count one retried platform API call (``rate_limit``, ``server_error``, ``network``)."""
        self._retries.labels(platform=platform, reason=reason).inc()

    def set_connected(self, platform: str, connected: bool) -> None:
        """Record whether an adapter is connected now (refreshed on every scrape)."""
        self._connected.labels(platform=platform).set(1 if connected else 0)

    def restarted(self, platform: str) -> None:
        """Count one restart of an adapter by the runtime's supervisor."""
        self._restarts.labels(platform=platform).inc()

    def storage_error(self, operation: str) -> None:
        """Count one failed store operation."""
        self._storage_errors.labels(operation=operation).inc()

    def set_storage_up(self, up: bool) -> None:
        """Record whether the store answers now."""
        self._storage_up.set(1 if up else 0)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)
