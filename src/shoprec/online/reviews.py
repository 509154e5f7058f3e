"""Per-product review sentiment, updated as review events are scored: shares of negative /
neutral / positive, mean intensity, the weekly trend, a highlight, and drift (the last four
weeks against the product's history) that ranking uses to demote products turning negative."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

LABELS = ("negative", "neutral", "positive")
WEEK_S = 7 * 86400.0
RECENT_WEEKS = 4


@dataclass(frozen=True, slots=True)
class ScoredReview:
    timestamp: float
    label: int  # index into LABELS
    intensity: float
    review_id: str
    text: str


def first_sentence(text: str, limit: int = 160) -> str:
    s = re.split(r"(?<=[.!?])\s+", " ".join(text.split()), maxsplit=1)[0]
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


class ReviewSentiment:
    """Scored reviews per item (keyed by external item id)."""

    def __init__(self) -> None:
        self._by_item: dict[str, list[ScoredReview]] = defaultdict(list)
        self._lock = threading.Lock()

    def add(self, item_id: str, review: ScoredReview) -> None:
        with self._lock:
            self._by_item[item_id].append(review)

    def remove_reviews(self, review_ids: set[str]) -> None:
        """Forget reviews (their author was deleted)."""
        with self._lock:
            for item, reviews in self._by_item.items():
                self._by_item[item] = [r for r in reviews if r.review_id not in review_ids]

    def snapshot(self) -> list[tuple[str, ScoredReview]]:
        """Every scored review as (item id, review): what a new model rescores."""
        with self._lock:
            return [(item, r) for item, reviews in self._by_item.items() for r in reviews]

    def replace(self, reviews: list[tuple[str, ScoredReview]]) -> None:
        """Swap in ``reviews`` (a rescored snapshot) as the whole set, at once."""
        fresh: dict[str, list[ScoredReview]] = defaultdict(list)
        for item, r in reviews:
            fresh[item].append(r)
        with self._lock:
            self._by_item = fresh

    def count(self, item_id: str) -> int:
        return len(self._by_item.get(item_id, ()))

    def summary(self, item_id: str) -> dict:
        """Shares, mean intensity, count, weekly trend (oldest first) and drift."""
        with self._lock:
            reviews = list(self._by_item.get(item_id, ()))
        if not reviews:
            return {
                "count": 0,
                "negative": 0.0,
                "neutral": 0.0,
                "positive": 0.0,
                "mean_intensity": 0.0,
                "trend": [],
                "drift": 0.0,
            }
        labels = np.array([r.label for r in reviews])
        shares = np.bincount(labels, minlength=3) / len(labels)
        weeks: dict[int, list[int]] = defaultdict(list)
        for r in reviews:
            weeks[int(r.timestamp // WEEK_S)].append(r.label)
        trend = []
        for w in sorted(weeks):
            c = np.bincount(weeks[w], minlength=3)
            start = datetime.fromtimestamp(w * WEEK_S, tz=UTC).date().isoformat()
            trend.append(
                {
                    "week": start,
                    "count": int(c.sum()),
                    **{LABELS[k]: float(c[k] / c.sum()) for k in range(3)},
                }
            )
        return {
            "count": len(reviews),
            **{LABELS[k]: float(shares[k]) for k in range(3)},
            "mean_intensity": float(np.mean([r.intensity for r in reviews])),
            "trend": trend,
            "drift": self._drift(reviews),
        }

    @staticmethod
    def _drift(reviews: list[ScoredReview]) -> float:
        """Net sentiment (positive - negative share) of the last four weeks minus before;
        0 without enough reviews on both sides. Negative = turning negative."""
        last = max(r.timestamp for r in reviews)
        cut = last - RECENT_WEEKS * WEEK_S
        recent = [r.label for r in reviews if r.timestamp > cut]
        before = [r.label for r in reviews if r.timestamp <= cut]
        if len(recent) < 3 or len(before) < 3:
            return 0.0

        def net(x: list[int]) -> float:
            a = np.asarray(x)
            return float((a == 2).mean() - (a == 0).mean())

        return net(recent) - net(before)

    def drift(self, item_id: str) -> float:
        """The item's sentiment drift alone (no trend tables built)."""
        with self._lock:
            reviews = list(self._by_item.get(item_id, ()))
        return self._drift(reviews) if reviews else 0.0

    def __bool__(self) -> bool:
        """Whether any review was scored (the feed skips per-item lookups until one is)."""
        return bool(self._by_item)

    def positive_share(self, item_id: str) -> tuple[float, int] | None:
        with self._lock:
            reviews = self._by_item.get(item_id)
            if not reviews:
                return None
            return sum(r.label == 2 for r in reviews) / len(reviews), len(reviews)

    def highlight(self, item_id: str) -> tuple[str, str] | None:
        """(review id, first sentence) of the most intensely positive review."""
        with self._lock:
            pos = [r for r in self._by_item.get(item_id, ()) if r.label == 2 and r.text.strip()]
        if not pos:
            return None
        best = max(pos, key=lambda r: (r.intensity, r.timestamp))
        return best.review_id, first_sentence(best.text)

    def falling(self, n: int = 10, min_reviews: int = 6) -> list[tuple[str, float, int]]:
        """Products whose sentiment is falling fastest: (item id, drift, reviews)."""
        with self._lock:
            items = {k: list(v) for k, v in self._by_item.items() if len(v) >= min_reviews}
        scored = [(k, self._drift(v), len(v)) for k, v in items.items()]
        return sorted([s for s in scored if s[1] < 0], key=lambda s: s[1])[:n]

    def clear(self) -> None:
        with self._lock:
            self._by_item.clear()
