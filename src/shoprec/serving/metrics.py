"""Prometheus metrics of one app: request counts and latency per route, events, fallbacks, state
size, the model bundle served and its reloads.

Each app owns its registry (no process-global collectors), so tests can build many apps. Under
``shoprec serve --workers`` prometheus-client's multiprocess mode is on
(``PROMETHEUS_MULTIPROC_DIR``, prepared by :func:`shoprec.serving.workers.metrics_dir`): every
worker writes its values to its own files there and ``/metrics``, whichever worker answers,
sums the counters and histograms of all of them (those of exited workers included, so totals
never go back), see docs/operations.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from shoprec.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from shoprec.serving.engine import Engine

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: The environment variable that turns prometheus-client's multiprocess mode on.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder the workers' metric files are in, or None (one process)."""
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = r = CollectorRegistry()
        self.latency = Histogram(
            "shoprec_request_seconds",
            "Request latency by route",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "shoprec_http_requests", "Requests answered", ["method", "route", "status"], registry=r
        )
        # the engine counts in plain integers (no metrics library in the hot path); they are
        # published here as counters, brought up to date at the end of every request
        self.events = Counter("shoprec_events", "Events accepted", registry=r)
        self.duplicates = Counter(
            "shoprec_duplicate_events", "Events ignored as duplicates", registry=r
        )
        self.fallbacks = Counter(
            "shoprec_fallbacks", "Answers from a fallback", ["reason"], registry=r
        )
        self.refused = Counter(
            "shoprec_events_refused", "Events answered 503: the store was unreachable", registry=r
        )
        self.clock_ignored = Counter(
            "shoprec_clock_ignored_events",
            "Stored events timed beyond the clock's window, left out of the clock and trending",
            registry=r,
        )
        self.store_failures = Counter(
            "shoprec_store_failures", "Calls that found the store unreachable", registry=r
        )
        # what the answering process sees now: with several workers, the latest value set
        self.users = Gauge(
            "shoprec_shoppers", "Shoppers with state", registry=r, multiprocess_mode="mostrecent"
        )
        self.items = Gauge(
            "shoprec_items", "Catalog items", registry=r, multiprocess_mode="mostrecent"
        )
        self.store_up = Gauge(
            "shoprec_store_up",
            "1 while the shared store answers, 0 while failing fast",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.state_bytes = Gauge(
            "shoprec_redis_state_bytes",
            "Redis bytes per shopper state (MEMORY USAGE over a sample, refreshed each minute)",
            ["stat"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.reloads = Counter(
            "shoprec_bundle_reloads", "Published model bundles swapped in", registry=r
        )
        self.reload_failures = Counter(
            "shoprec_bundle_reload_failures",
            "Published model bundles that failed to load (the served one kept)",
            registry=r,
        )
        self.bundle = Gauge(
            "shoprec_model_info",
            "1 for the model bundle version this process serves",
            ["version"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._version: str | None = None
        self._seen: dict[str, int] = {}  # engine counts already published by this app

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status // 100) + "xx").observe(seconds)
        self.requests.labels(method, route, str(status)).inc()
        if route.startswith("/v1/"):
            self.engine.stats.add_latency(f"{method} {route}", seconds)
        self.sync()

    def _publish(self, key: str, total: int, counter: Counter) -> None:
        delta = total - self._seen.get(key, 0)
        if delta > 0:
            counter.inc(delta)
            self._seen[key] = total

    def sync(self) -> None:
        """Bring the counters up to the engine's counts (cheap: a few integer reads)."""
        c = self.engine.counters
        self._publish("events", c.events, self.events)
        self._publish("duplicates", c.duplicates, self.duplicates)
        self._publish("refused", c.refused, self.refused)
        self._publish("clock_ignored", self.engine.live.time.ignored, self.clock_ignored)
        self._publish("reloads", c.reloads, self.reloads)
        self._publish("reload_failures", c.reload_failures, self.reload_failures)
        for reason, n in list(c.fallbacks.items()):
            self._publish("fallback:" + reason, n, self.fallbacks.labels(reason))
        shared = self.engine.shared
        if shared is not None:
            self._publish("store_failures", shared.breaker.failures, self.store_failures)

    def render(self) -> bytes:
        self.sync()
        shared = self.engine.shared
        if shared is not None:
            self.store_up.set(float(shared.breaker.up))
        try:  # with Redis a count is a scan: skipped while it is down, never a 500
            self.users.set(self.engine.census.shoppers())
            if shared is not None:
                for stat, v in shared.state_bytes().items():
                    self.state_bytes.labels(stat).set(v)
        except StoreUnavailable:
            pass
        self.items.set(len(self.engine.catalog))
        version = self.engine.bundle.version
        if version != self._version:  # the old version's series goes to 0, the new one's to 1
            if self._version is not None:
                self.bundle.labels(self._version).set(0.0)
            self.bundle.labels(version).set(1.0)
            self._version = version
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=folder)
        return generate_latest(every_worker)
