"""Trending items: event weights summed with exponential time decay, one float per item.

Every item is decayed by the same factor between two moments, so ranking needs no decay at
all: each event adds ``weight * exp((ts - ref) / tau)``; ``ref`` moves forward (rescaling
everything once) before the exponent could overflow.
"""

from __future__ import annotations

import math
import threading

import numpy as np

#: Trending scores lose half their weight in this many seconds (by event time).
TRENDING_HALF_LIFE_S = 3 * 86400.0


class Trending:
    """Decayed event counts over internal item indices ``0..n-1`` (grows with the catalog).

    Parameters
    ----------
    half_life_s : seconds for a score to halve.
    """

    def __init__(self, n_items: int = 0, half_life_s: float = TRENDING_HALF_LIFE_S) -> None:
        self.tau = half_life_s / math.log(2.0)
        self._values = np.zeros(max(n_items, 16), dtype=np.float64)
        self._ref: float | None = None
        self._lock = threading.Lock()
        self.version = 0  # bumped by every write: readers cache what they derive from it
        self._top: tuple[tuple[int, int, int], np.ndarray] | None = None

    def add(self, index: np.ndarray | int, weight: np.ndarray | float, ts: float) -> None:
        """Add ``weight`` to item ``index`` (arrays allowed) at event time ``ts``."""
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        self.add_many(
            idx,
            np.broadcast_to(np.asarray(weight, np.float64), idx.shape),
            np.full(idx.shape, float(ts)),
        )

    def add_many(self, index: np.ndarray, weight: np.ndarray, ts: np.ndarray) -> None:
        """:meth:`add` for a batch of events in order (``index``, ``weight``, ``ts`` aligned):
        the same values as one call per event, with one vectorised sum per stretch of events
        between two moves of the reference time."""
        idx = np.asarray(index, dtype=np.int64)
        if not idx.size:
            return
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), idx.shape)
        ts = np.asarray(ts, dtype=np.float64)
        with self._lock:
            if idx.max() >= len(self._values):
                grown = np.zeros(max(2 * len(self._values), int(idx.max()) + 1))
                grown[: len(self._values)] = self._values
                self._values = grown
            ref, start = self._ref, 0
            for k, t in enumerate(ts.tolist()):
                if ref is None:
                    ref = t
                elif (t - ref) / self.tau > 30.0:  # the rescale :meth:`add` would do here
                    self._sum(idx[start:k], w[start:k], ts[start:k], ref)
                    self._values *= math.exp(-(t - ref) / self.tau)
                    ref, start = t, k
            assert ref is not None
            self._sum(idx[start:], w[start:], ts[start:], ref)
            self._ref = ref
            self.version += 1

    def _sum(self, idx: np.ndarray, w: np.ndarray, ts: np.ndarray, ref: float) -> None:
        np.add.at(self._values, idx, w * np.exp((ts - ref) / self.tau))

    def scores(self, n_items: int, now: float | None = None) -> np.ndarray:
        """``(n_items,)`` float64 decayed scores (as of ``now``; default: the reference time)."""
        with self._lock:
            out = np.zeros(n_items)
            m = min(n_items, len(self._values))
            out[:m] = self._values[:m]
            if now is not None and self._ref is not None:
                out *= math.exp(-(now - self._ref) / self.tau)
        return out

    def top(self, k: int, n_items: int) -> np.ndarray:
        """The ``k`` items of highest score among ``0..n_items-1``, best first (ties: lower
        index first); cached until the next write, since every request asks for it."""
        key = (self.version, k, n_items)
        cached = self._top
        if cached is not None and cached[0] == key:
            return cached[1]
        scores = self.scores(n_items)
        k = min(k, n_items)
        part = np.argpartition(scores, n_items - k)[n_items - k :] if k < n_items else None
        top = np.arange(n_items) if part is None else part
        top = top[np.lexsort((top, -scores[top]))]
        self._top = (key, top)
        return top

    def clear(self) -> None:
        with self._lock:
            self.version += 1
            self._values[:] = 0.0
            self._ref = None
