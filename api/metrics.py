"""Prometheus metrics of one API process: requests, commands, projection lag.

Each app has its own registry (several apps in one test process must not collide); ``/metrics``
renders it in the text exposition format.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "capledger_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "capledger_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.commands = Counter(
            "capledger_commands",
            "Commands by type and outcome (recorded, replayed, refused, conflict, error); "
            "`code` is the error code of a refusal.",
            ["command", "outcome", "code"],
            registry=self.registry,
        )
        self.ledger_position = Gauge(
            "capledger_ledger_position",
            "The ledger's last global position (notification id).",
            registry=self.registry,
        )
        self.projection_position = Gauge(
            "capledger_projection_position",
            "The last position applied to the read model.",
            registry=self.registry,
        )
        self.projection_lag = Gauge(
            "capledger_projection_lag",
            "Positions recorded in the ledger and not yet in the read model.",
            registry=self.registry,
        )
        self.read_your_writes_timeouts = Counter(
            "capledger_read_your_writes_timeouts",
            "Commands answered before the read model reached their position.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
