"""How many shoppers the state store holds, and a few of them for the storefront's picker:
both need a walk over every key (over Redis a full ``SCAN``), so each is recomputed at most
every :data:`TTL_S` seconds per process, not on every ``/``, ``/v1/stats`` or ``/metrics``
request (the dashboard polls every 2 s; a scraper every few seconds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from shoprec.data.keys import is_session_key
from shoprec.online.state import UserState
from shoprec.store.protocols import StateStore

T = TypeVar("T")

#: Seconds a count or a sample is served before the store is walked again.
TTL_S = 30.0


class Census:
    """Cached walks over ``states``; a failed walk (store down) raises and is retried on the
    next call, so the cache never holds an error."""

    def __init__(self, states: StateStore[UserState], ttl_s: float = TTL_S) -> None:
        self.states, self.ttl_s = states, ttl_s
        self._cache: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()  # one walk at a time; the others wait for its answer

    def _cached(self, key: str, walk: Callable[[], T]) -> T:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
                return hit[1]  # type: ignore[return-value]
            value = walk()
            self._cache[key] = (time.monotonic(), value)
            return value

    def shoppers(self) -> int:
        """Shoppers (and anonymous sessions) with a state, as of at most ``ttl_s`` ago."""
        return self._cached("count", lambda: len(self.states))

    def sample(self, n: int = 12, min_events: int = 5) -> list[str]:
        """Up to ``n`` signed-in shoppers with at least ``min_events`` events (the picker's)."""

        def walk() -> list[str]:
            out: list[str] = []
            for user in self.states.users():
                if is_session_key(user):
                    continue
                st = self.states.get(user)
                if st is not None and st.n_events >= min_events:
                    out.append(user)
                if len(out) >= n:
                    break
            return out

        return list(self._cached(f"sample:{n}:{min_events}", walk))

    def forget(self) -> None:
        """Drop the cached samples (a shopper was erased, maybe one of them): the next asks
        the store again."""
        with self._lock:
            for key in [k for k in self._cache if k.startswith("sample:")]:
                del self._cache[key]
