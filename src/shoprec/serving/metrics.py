"""Prometheus metrics of one app: latency histograms per route, events, fallbacks, state size.

Each app owns its registry (no process-global collectors), so tests can build many apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from shoprec.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from shoprec.serving.engine import Engine

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "shoprec_request_seconds",
            "Request latency by route",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.events = Gauge("shoprec_events_total", "Events accepted", registry=self.registry)
        self.duplicates = Gauge(
            "shoprec_duplicate_events_total", "Events ignored as duplicates", registry=self.registry
        )
        self.fallbacks = Gauge(
            "shoprec_fallbacks_total", "Answers from a fallback", ["reason"], registry=self.registry
        )
        self.users = Gauge("shoprec_shoppers", "Shoppers with state", registry=self.registry)
        self.items = Gauge("shoprec_items", "Catalog items", registry=self.registry)
        self.refused = Gauge(
            "shoprec_events_refused_total",
            "Events answered 503: the store was unreachable",
            registry=self.registry,
        )
        self.store_up = Gauge(
            "shoprec_store_up",
            "1 while the shared store answers, 0 while failing fast",
            registry=self.registry,
        )
        self.store_failures = Gauge(
            "shoprec_store_failures_total",
            "Calls that found the store unreachable",
            registry=self.registry,
        )
        self.state_bytes = Gauge(
            "shoprec_redis_state_bytes",
            "Redis bytes per shopper state (MEMORY USAGE over a sample, refreshed each minute)",
            ["stat"],
            registry=self.registry,
        )
        self.requests = Counter(
            "shoprec_http_requests", "Requests by route", ["route"], registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status // 100) + "xx").observe(seconds)
        if route.startswith("/v1/"):
            self.engine.stats.add_latency(f"{method} {route}", seconds)

    def render(self) -> bytes:
        c = self.engine.counters
        self.events.set(c.events)
        self.duplicates.set(c.duplicates)
        for reason, n in list(c.fallbacks.items()):
            self.fallbacks.labels(reason).set(n)
        self.refused.set(c.refused)
        shared = self.engine.shared
        if shared is not None:
            self.store_up.set(float(shared.breaker.up))
            self.store_failures.set(shared.breaker.failures)
        try:  # with Redis a count is a scan: skipped while it is down, never a 500
            self.users.set(len(self.engine.states))
            if shared is not None:
                for stat, v in shared.state_bytes().items():
                    self.state_bytes.labels(stat).set(v)
        except StoreUnavailable:
            pass
        self.items.set(len(self.engine.catalog))
        return generate_latest(self.registry)
