"""The engine's review sentiment: the model serving now, every review scored by it, and each
item's sentiment drift (what the pipeline demotes by). Which model that is, and when a newer
one is published, is :mod:`shoprec.serving.sentiment`'s; switching to it rescores every review
here, so that item sentiment, trend, drift and reasons all come from one model."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shoprec.data.records import Event, EventType
from shoprec.nlp.sentiment.quick import SentimentUnavailable
from shoprec.online.reviews import LABELS, ReviewSentiment, ScoredReview
from shoprec.ranking.catalog import Catalog
from shoprec.serving.sentiment import ServedSentiment

if TYPE_CHECKING:
    from shoprec.nlp.sentiment import SentimentModel

log = logging.getLogger(__name__)

#: Seconds between looks for a model while there is none.
RECHECK_S = 30.0


def review_id(event: Event) -> str:
    """The id a review is kept under: its event id, else who reviewed what when."""
    return event.event_id or f"{event.user_id}|{event.item_id}|{event.timestamp:.0f}"


class ReviewScoring:
    """Parameters
    ----------
    catalog : the live catalog (drift is kept by catalog index).
    factory : returns the model to serve, as a :class:`ServedSentiment` or a bare model; may
        raise :class:`SentimentUnavailable` saying why there is none.
    """

    def __init__(
        self,
        catalog: Catalog,
        factory: Callable[[], ServedSentiment | SentimentModel] | None = None,
    ) -> None:
        self.catalog, self._factory = catalog, factory
        self.reviews = ReviewSentiment()
        self.drift: dict[int, float] = {}  # item index -> sentiment drift (see online.reviews)
        self.reason = "no review sentiment model configured"  # while there is none
        self._served: ServedSentiment | None = None
        self._checked = -1e9

    def served(self) -> ServedSentiment | None:
        """The model serving now, with its name and version; None while there is none
        (:attr:`reason` says why; looked for again at most every :data:`RECHECK_S`, so a model
        published later is picked up)."""
        now = time.monotonic()
        if self._served is None and self._factory is not None and now - self._checked > RECHECK_S:
            self._checked = now
            try:
                found = self._factory()
            except SentimentUnavailable as e:
                self.reason = str(e)
                return None
            if found is not None and not isinstance(found, ServedSentiment):
                found = ServedSentiment(found, type(found).__name__, "unversioned")
            self._served = found
        return self._served

    def model(self) -> SentimentModel | None:
        """The bare model of :meth:`served` (None while there is none)."""
        served = self.served()
        return None if served is None else served.model

    def score(self, events: Sequence[Event]) -> None:
        """Score the review events with text among ``events`` and update their items' drift."""
        events = [e for e in events if e.type is EventType.REVIEW and e.text]
        model = self.model() if events else None
        if model is None:
            return
        results = model.predict([e.text or "" for e in events])
        for e, r in zip(events, results, strict=True):
            label = LABELS.index(r.label)
            self.reviews.add(
                e.item_id, ScoredReview(e.timestamp, label, r.intensity, review_id(e), e.text or "")
            )
        for item in {e.item_id for e in events}:
            idx = self.catalog.get(item)
            if idx:
                self.drift[idx] = self.reviews.drift(item)

    def switch(self, served: ServedSentiment, lock: threading.Lock) -> None:
        """Serve ``served`` from now on, every stored review rescored by it. The bulk is
        rescored outside the engine's write ``lock``; reviews that arrived meanwhile (scored by
        the old model) are rescored under it, then the reviews and the model swap together."""
        before = self.reviews.snapshot()
        rescored = _rescore(served.model, before)
        with lock:
            now = self.reviews.snapshot()
            seen, kept = {r.review_id for _, r in before}, {r.review_id for _, r in now}
            late = [(item, r) for item, r in now if r.review_id not in seen]
            fresh = [(i, r) for i, r in rescored if r.review_id in kept]
            self.reviews.replace(fresh + _rescore(served.model, late))
            self._served = served
            drift = {}
            for item in {item for item, _ in now}:
                idx = self.catalog.get(item)
                if idx:
                    drift[idx] = self.reviews.drift(item)
            self.drift = drift
        log.info(
            "review sentiment: %s model %s now serving (%d reviews rescored)",
            served.name, served.version, len(now),
        )  # fmt: skip

    def sentiment_of(self, idx: int) -> tuple[float, int] | None:
        """(share of positive reviews, count) of an item, when reviews were scored."""
        return self.reviews.positive_share(self.catalog.ids[idx]) if idx else None

    def highlight_of(self, idx: int) -> tuple[str, str] | None:
        """(review id, first sentence) of the item's most positive review, if any."""
        return self.reviews.highlight(self.catalog.ids[idx]) if idx else None


def _rescore(model: Any, reviews: list[tuple[str, ScoredReview]]) -> list[tuple[str, ScoredReview]]:
    """``reviews`` with label and intensity from ``model`` (time, id and text kept)."""
    if not reviews:
        return []
    results = model.predict([r.text for _, r in reviews])
    return [
        (item, replace(r, label=LABELS.index(p.label), intensity=p.intensity))
        for (item, r), p in zip(reviews, results, strict=True)
    ]
