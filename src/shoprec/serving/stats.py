"""Live figures for the dashboard: events per second, request latency percentiles per route,
click-through rate from feedback, catalog coverage of what was served, fallback rate; and the
process's counters behind /metrics.

Bounded memory: per-second buckets for the last minute, the last 2,000 latencies per route,
and the items served in the last 5,000 recommendation lists.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

WINDOW_S = 60
LATENCIES = 2000
SERVED_LISTS = 5000


@dataclass
class Counters:
    """Process-local counters for /metrics and the dashboard."""

    events: int = 0
    duplicates: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    refused: int = 0  # events answered 503 because the store was unreachable
    reloads: int = 0  # published bundles swapped in (serving/bundles.py)
    reload_failures: int = 0  # published bundles that failed to load (the old one kept)


class LiveStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: deque[tuple[int, int]] = deque()  # (second, count)
        self._latency: dict[str, deque[float]] = {}
        self._served: deque[tuple[int, ...]] = deque(maxlen=SERVED_LISTS)
        self.requests = 0
        self.fallbacks = 0
        self.impressions = 0
        self.clicks = 0

    def add_events(self, n: int, now: float | None = None) -> None:
        sec = int(now if now is not None else time.time())
        with self._lock:
            if self._events and self._events[-1][0] == sec:
                self._events[-1] = (sec, self._events[-1][1] + n)
            else:
                self._events.append((sec, n))
            while self._events and self._events[0][0] < sec - WINDOW_S:
                self._events.popleft()

    def add_latency(self, route: str, seconds: float) -> None:
        with self._lock:
            self._latency.setdefault(route, deque(maxlen=LATENCIES)).append(seconds)

    def add_served(self, indices: list[int], fallback: bool) -> None:
        with self._lock:
            self._served.append(tuple(indices))
            self.requests += 1
            self.fallbacks += fallback

    def add_feedback(self, impressions: int, clicks: int) -> None:
        with self._lock:
            self.impressions += impressions
            self.clicks += clicks

    def snapshot(self, n_items: int, now: float | None = None) -> dict:
        """The dashboard's JSON."""
        now = now if now is not None else time.time()
        with self._lock:
            recent = [c for s, c in self._events if s >= now - 10]
            total = sum(c for _, c in self._events)
            routes = {}
            for route, lat in self._latency.items():
                a = np.asarray(lat) * 1000.0
                routes[route] = {
                    "count": len(a),
                    **{f"p{q}": float(np.percentile(a, q)) for q in (50, 90, 99)},
                }
            served = {i for lst in self._served for i in lst}
            return {
                "events_per_s": sum(recent) / 10.0,
                "events_last_minute": total,
                "latency_ms": routes,
                "ctr": self.clicks / self.impressions if self.impressions else None,
                "impressions": self.impressions,
                "clicks": self.clicks,
                "coverage": len(served) / n_items if n_items else 0.0,
                "fallback_rate": self.fallbacks / self.requests if self.requests else 0.0,
                "recommendation_requests": self.requests,
            }
