"""Prometheus metrics, one registry per app so several apps (tests, benchmarks) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "foureyes_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "foureyes_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.requests_created = Counter(
            "foureyes_requests_created_total", "Workflow requests created", ["type"], registry=self.registry
        )
        self.requests_decided = Counter(
            "foureyes_requests_decided_total", "Workflow decisions", ["type", "decision"], registry=self.registry
        )
        self.executions = Counter(
            "foureyes_executions_total",
            "Downstream execution attempts by outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.execution_latency = Histogram(
            "foureyes_execution_seconds",
            "Downstream call latency",
            ["type"],
            registry=self.registry,
        )
        self.jobs_due = Gauge("foureyes_jobs_due", "Execution jobs due and not leased", registry=self.registry)
        self.webhook_deliveries = Counter(
            "foureyes_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"], registry=self.registry
        )
        self.badge_earns = Counter("foureyes_badge_earns_total", "Badges earned", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
