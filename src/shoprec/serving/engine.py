"""The engine behind the API: stores, live catalog, online state, trending, the model bundle
and the pipeline, with the operations the routes call.

Write path: validate (schemas) -> event log (durable) -> user state + trending, under one lock,
before the request is acknowledged; so the very next request sees the event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from shoprec.data.keys import is_session_key, state_key
from shoprec.data.records import EVENT_WEIGHTS, Event, EventType, Item
from shoprec.experiments.registry import ExperimentRegistry
from shoprec.online.reviews import LABELS, ReviewSentiment, ScoredReview
from shoprec.online.state import UserState
from shoprec.online.tags import ItemTagger, tags_for_catalog
from shoprec.online.trending import Trending
from shoprec.ranking.candidates import Request
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.explain import short
from shoprec.ranking.bundle import ModelBundle, build_bundle, extend, neighbours
from shoprec.ranking.pipeline import Pipeline, Result, make_fill_order
from shoprec.ranking.rerank import Filters, allowed
from shoprec.serving.stats import LiveStats
from shoprec.ranking.strategy import Strategy
from shoprec.store.memory import MemoryStateStore
from shoprec.store.protocols import EventLog, ItemStore, StateStore
from shoprec.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from shoprec.nlp.assistant import Assistant
    from shoprec.nlp.search import ProductSearch
    from shoprec.nlp.sentiment import SentimentModel
    from shoprec.serving.sentiment import ServedSentiment
    from shoprec.serving.shared import SharedState

log = logging.getLogger(__name__)

#: Items of history the sequence model reads per request.
HISTORY = 50
#: The ``fallback`` of answers served while the shared store is unreachable.
STORE_DOWN = "store unavailable: trending items"


@dataclass
class Counters:
    """Process-local counters for /metrics and the dashboard."""

    events: int = 0
    duplicates: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    refused: int = 0  # events answered 503 because the store was unreachable


class Engine:
    """Everything a request needs.

    Parameters
    ----------
    events, items, states : the stores (embedded or Redis).
    vectorize : texts -> ``(N, 384)`` unit text vectors (the encoder, behind the cache).
    tagger : zero-shot tagger for items without catalog categories (None: catalog tags only).
    strategy : the default pipeline settings.
    sentiment : returns the review sentiment model, as a
        :class:`~shoprec.serving.sentiment.ServedSentiment` or a bare model; may raise
        ``SentimentUnavailable`` saying why there is none (asked again at most every 30 s).
    """

    def __init__(
        self,
        events: EventLog,
        items: ItemStore,
        states: StateStore[UserState],
        vectorize: Callable[[list[str]], np.ndarray],
        tagger: ItemTagger | None = None,
        strategy: Strategy | None = None,
        sentiment: Callable[[], ServedSentiment | SentimentModel] | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.events, self.items, self.states = events, items, states
        self.vectorize, self.tagger = vectorize, tagger
        self.catalog = Catalog()
        self.trending = Trending()
        self.pipeline = Pipeline(self.catalog, strategy)
        # A/B tests over strategies; build_engine swaps in a durable store
        self.experiments = ExperimentRegistry(MemoryStateStore[dict]())
        self.bundle: ModelBundle = build_bundle(self.catalog, None, None, None, [])
        self.counters = Counters()
        self.stats = LiveStats()
        self.reviews = ReviewSentiment()
        self._sentiment_factory = sentiment
        self.shared = shared  # Redis stores shared by replicas (None: embedded, one process)
        self._sentiment: ServedSentiment | None = None
        self._sentiment_checked = -1e9
        self.sentiment_reason = "no review sentiment model configured"  # while there is none
        self.clock = 0.0  # the latest event time seen: "now" for trending and new arrivals
        self._write = threading.Lock()
        self.drift: dict[int, float] = {}  # item index -> sentiment drift (see online.reviews)
        self._search: ProductSearch | None = None  # the search index, built on first use
        self._assistant: Assistant | None = None
        # (trending version, bundle, every item by trending then popularity): the fill order
        self._fill: tuple[int, ModelBundle, np.ndarray] | None = None

    # -- start-up -------------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the catalog and every user's state from the stores (after a restart)."""
        stored = self.items.all()
        if stored:
            self._catalog_upsert([it for it, _ in stored], [t for _, t in stored])
        if self.shared is None:  # shared states are built once, by build_engine's parent
            self.states.clear()
        self.trending.clear()
        n = 0
        reviews: list[Event] = []
        page: list[Event] = []
        for _, event in self.events.replay():
            page.append(event)
            if event.type is EventType.REVIEW and event.text:
                reviews.append(event)
            if len(page) == 10_000:
                self._apply_all(page)
                n, page = n + len(page), []
        self._apply_all(page)
        n += len(page)
        self._score_reviews(reviews)
        self.bundle = extend(self.bundle, self.catalog)
        log.info(
            "state rebuilt: %d items, %d events, %d shoppers",
            len(self.catalog),
            n,
            len(self.states),
        )

    def set_bundle(self, bundle: ModelBundle) -> None:
        """Swap in new models (hot reload): one reference assignment, no request fails."""
        self.bundle = extend(bundle, self.catalog)

    # -- writes ---------------------------------------------------------------------------
    def ingest(self, events: Sequence[Event]) -> tuple[int, int]:
        """Durably log ``events`` and apply the new ones; returns (accepted, duplicates)."""
        with self._write:
            stored = self.events.append(events)
            fresh = [e for e, new in zip(events, stored, strict=True) if new]
            if self.shared is not None:  # fold into the shared state before the ack; trending
                self.shared.fold(fresh, self.fold)  # and reviews follow the stream (observe)
                self.clock = max([self.clock, *(e.timestamp for e in fresh)])
            else:
                self._apply_all(fresh)
                self._score_reviews([e for e in fresh if e.type is EventType.REVIEW and e.text])
            if self.experiments.running is not None:  # attribute to the serving variant
                fresh = [e for e, new in zip(events, stored, strict=True) if new]
                self.experiments.on_events(fresh, self.price_of)
            accepted = sum(stored)
            self.stats.add_events(accepted)
            self.counters.events += accepted
            self.counters.duplicates += len(events) - accepted
        return accepted, len(events) - accepted

    def _apply_all(self, events: Sequence[Event]) -> None:
        """Apply ``events`` in order: user states one by one, trending in one batch."""
        if not events:
            return
        get, labels = self.catalog.get, self.catalog.labels
        hit: list[tuple[int, float, float]] = []  # (index, weight, time) of catalog items
        for event in events:
            idx = get(event.item_id) if event.item_id else 0
            if self.shared is None:  # shared states are folded in Redis (fold)
                key = state_key(event.user_id, event.session_id)
                state = self.states.get(key) or UserState()
                state.apply(event, list(labels[idx]) if idx else None)
                self.states.put(key, state)
            if idx:
                hit.append((idx, EVENT_WEIGHTS[event.type], event.timestamp))
        self.clock = max(self.clock, max(e.timestamp for e in events))
        if hit:
            idx_a, w_a, t_a = (np.array(col) for col in zip(*hit, strict=True))
            self.trending.add_many(idx_a, w_a, t_a)

    def fold(self, state: UserState | None, events: list[Event]) -> UserState:
        """``state`` (or a new one) with ``events`` applied: the shared stores' fold."""
        state = state or UserState()
        for event in events:
            idx = self.catalog.get(event.item_id) if event.item_id else 0
            state.apply(event, list(self.catalog.labels[idx]) if idx else None)
        return state

    def observe(self, events: Sequence[Event]) -> None:
        """Events read from the shared stream (any replica's): trending, clock, reviews."""
        with self._write:
            self._apply_all(events)
            self._score_reviews([e for e in events if e.type is EventType.REVIEW and e.text])

    # -- review sentiment -------------------------------------------------------------------
    def sentiment_served(self) -> ServedSentiment | None:
        """The review sentiment model serving now, with its name and version; None while
        there is none (:attr:`sentiment_reason` says why; looked for again at most every 30 s,
        so a model published later is picked up)."""
        from shoprec.nlp.sentiment.quick import SentimentUnavailable
        from shoprec.serving.sentiment import ServedSentiment

        now = time.monotonic()
        if (
            self._sentiment is None
            and self._sentiment_factory is not None
            and now - self._sentiment_checked > 30.0
        ):
            self._sentiment_checked = now
            try:
                found = self._sentiment_factory()
            except SentimentUnavailable as e:
                self.sentiment_reason = str(e)
                return None
            if found is not None and not isinstance(found, ServedSentiment):
                found = ServedSentiment(found, type(found).__name__, "unversioned")
            self._sentiment = found
        return self._sentiment

    def sentiment_model(self) -> SentimentModel | None:
        """The bare model of :meth:`sentiment_served` (None while there is none)."""
        served = self.sentiment_served()
        return None if served is None else served.model

    def switch_sentiment(self, served: ServedSentiment) -> None:
        """Serve ``served`` from now on, every stored review rescored by it
        (:func:`~shoprec.serving.sentiment.switch`)."""
        from shoprec.serving.sentiment import switch

        switch(self, served, self._write)

    def _set_sentiment(self, served: ServedSentiment) -> None:
        self._sentiment = served

    def _score_reviews(self, events: list[Event]) -> None:
        model = self.sentiment_model() if events else None
        if model is None:
            return
        results = model.predict([e.text or "" for e in events])
        for e, r in zip(events, results, strict=True):
            rid = e.event_id or f"{e.user_id}|{e.item_id}|{e.timestamp:.0f}"
            label = LABELS.index(r.label)
            self.reviews.add(
                e.item_id, ScoredReview(e.timestamp, label, r.intensity, rid, e.text or "")
            )
        for item in {e.item_id for e in events}:
            idx = self.catalog.get(item)
            if idx:
                self.drift[idx] = self.reviews.drift(item)

    def upsert_items(self, items: Sequence[Item], now: float | None = None) -> np.ndarray:
        """Store and index items; new ones are recommendable at once (by their text)."""
        now = time.time() if now is None else now
        with self._write:
            self.items.upsert(items, now)
            idx = self._catalog_upsert(list(items), [now] * len(items))
            self.bundle = extend(self.bundle, self.catalog)
        return idx

    def _catalog_upsert(self, items: list[Item], added_at: list[float]) -> np.ndarray:
        vectors = self.vectorize([it.text() for it in items])
        tags = tags_for_catalog(items, vectors, self.tagger)
        return self.catalog.upsert(items, vectors, tags, added_at)

    def delete_user(self, user_id: str) -> int:
        """Erase the user's events and state; returns the number of events erased."""
        with self._write:
            gone = {
                e.event_id or f"{e.user_id}|{e.item_id}|{e.timestamp:.0f}"
                for e in self.events.user_events(user_id)
                if e.type is EventType.REVIEW
            }
            n = self.events.delete_user(user_id)
            self.states.delete(user_id)
            self.experiments.forget(user_id)
            if gone:
                self.reviews.remove_reviews(gone)
        if self.shared is not None:  # the training-export files copied from the stream
            from shoprec.store.redis_export import erase_user

            erase_user(self.shared.log, user_id)  # outside the write lock: files can be big
        return n

    # -- reads ----------------------------------------------------------------------------
    def state(self, user_id: str) -> UserState | None:
        return self.states.get(user_id)

    def request_for(self, state: UserState | None) -> Request:
        """The pipeline's view of a shopper: recent items in catalog indices, interests."""
        if state is None:
            return Request(np.zeros(0, np.int64), None, {}, self.clock)
        recent = state.recent[-HISTORY:]
        get = self.catalog.index.get
        pairs = [(get(i, 0), t) for i, t, _ in recent]
        pairs = [(i, t) for i, t in pairs if i]
        hist = np.fromiter((i for i, _ in pairs), np.int64, len(pairs))
        times = np.fromiter((t for _, t in pairs), np.float64, len(pairs))
        return Request(hist, times, state.interest_weights(self.clock), self.clock)

    def recommend(
        self,
        user_id: str,
        n: int = 20,
        category: str | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] = (),
        strategy: Strategy | None = None,
        session_id: str | None = None,
    ) -> Result:
        try:
            state, down = self.states.get(state_key(user_id, session_id)), False
        except StoreUnavailable:  # answer anyway, from in-process trending (flagged below)
            state, down = None, True
        bundle = self.bundle
        req = self.request_for(state)
        excl = set(self.catalog.indices(list(exclude)).tolist()) | self._bought(state)
        filters = Filters(frozenset(excl), category, min_price, max_price)
        version = self.trending.version  # read first: a write meanwhile only means a recompute
        trending = self.trending.scores(bundle.n_rows)
        hot = self.trending.top((strategy or self.pipeline.strategy).n_trending, bundle.n_rows)

        def fill_order() -> np.ndarray:  # built when a list runs short; kept until an event
            fill = self._fill  # (trending's version) or a reload changes it
            if fill is None or fill[0] != version or fill[1] is not bundle:
                fill = self._fill = (version, bundle, make_fill_order(bundle, trending))
            return fill[2]

        result = self.pipeline.recommend(
            bundle,
            trending,
            req,
            n,
            filters,
            strategy,
            self.drift,
            trending_top=hot,
            fill_order=fill_order,
        )
        for r in result.items if self.reviews else ():  # a true fact from review sentiment
            share = self.sentiment_of(r.index)
            if share and share[1] >= 5 and share[0] >= 0.8 and len(r.reasons) < 3:
                r.reasons.append(f"{round(100 * share[0])}% of {share[1]} reviewers are positive")
        if down:
            result.fallback = STORE_DOWN
        self.stats.add_served([r.index for r in result.items], result.fallback is not None)
        if result.fallback:
            self.counters.fallbacks[result.fallback] = (
                self.counters.fallbacks.get(result.fallback, 0) + 1
            )
        return result

    def similar(
        self, item_id: str, n: int = 10, user_id: str | None = None
    ) -> list[tuple[int, float, str]]:
        """Items like ``item_id``: co-visitation neighbours first, then text neighbours; in
        stock, and with ``user_id`` none that shopper bought (the next nearest instead)."""
        idx = self.catalog.get(item_id)
        if not idx:
            return []
        try:
            state = self.states.get(user_id) if user_id else None
        except StoreUnavailable:  # still answer: not personalised
            state = None
        bought = self._bought(state)
        b = self.bundle
        if idx >= b.n_rows:
            b = extend(b, self.catalog)
        title = short(self.catalog.title(idx))
        why = {"covis": f"Often bought with {title}", "text": f"Similar to {title}"}
        _, price, in_stock, _ = self.catalog.view()
        near = neighbours(b, idx, 3 * n + len(bought))
        ids = np.fromiter((j for j, _, _ in near), np.int64, len(near))
        ok = allowed(ids, Filters(frozenset(bought)), price, in_stock).tolist()
        return [(j, s, why[src]) for (j, s, src), good in zip(near, ok, strict=True) if good][:n]

    def _bought(self, state: UserState | None) -> set[int]:
        """Catalog indices of the items ``state``'s shopper bought."""
        return set(self.catalog.indices(sorted(state.bought)).tolist()) if state else set()

    def search(
        self, query: str, user_id: str | None = None, n: int = 20
    ) -> list[tuple[int, float, list[str]]]:
        """Lexical + semantic matches for ``query``, re-ranked for the shopper when known."""
        from shoprec.nlp.search import ProductSearch
        from shoprec.ranking.explain import tag_phrase

        if self._search is None:
            # queries are embedded apart from the item cache when the vectorizer can
            self._search = ProductSearch(
                self.catalog, getattr(self.vectorize, "queries", self.vectorize)
            )
        bundle = self.bundle
        ids, rrf = self._search.search(query, bundle.n_rows)
        in_stock = self.catalog.view()[2]
        keep = in_stock[ids]
        ids, rrf = ids[keep], rrf[keep]
        if not len(ids):
            return []
        score = rrf / rrf.max()
        personal = np.zeros(len(ids))
        state = self.states.get(user_id) if user_id else None
        req = self.request_for(state)
        if bundle.encoder is not None and len(req.history):
            seq = bundle.encoder.scores(req.history, req.times)[ids]
            personal += 0.3 * (np.argsort(np.argsort(seq)) / max(1, len(ids) - 1))
        best_tag = [""] * len(ids)
        if req.interests:
            for k, i in enumerate(ids.tolist()):
                w = {lab: req.interests.get(lab, 0.0) for lab in self.catalog.labels[i]}
                if w and max(w.values()) > 0:
                    best_tag[k] = max(w, key=w.__getitem__)
                    personal[k] += 0.2 * min(1.0, sum(w.values()) * 3)
        total = score + personal
        order = np.argsort(-total, kind="stable")[:n]
        out = []
        for k in order.tolist():
            reasons = [f"Matches “{query[:60]}”"]
            if personal[k] > 0.15 and best_tag[k]:
                reasons.append(tag_phrase(best_tag[k]))
            elif personal[k] > 0.2:
                reasons.append("Fits your recent activity")
            out.append((int(ids[k]), float(total[k]), reasons))
        return out

    def assistant(self) -> Assistant:
        """The shopping assistant over this engine's catalog, search and purchases."""
        from shoprec.nlp.assistant import Assistant

        if self._assistant is None:

            def purchases(user_id: str) -> list[tuple[str, float]]:
                st = self.states.get(user_id)
                return [(i, t) for i, t, k in st.recent if k == "purchase"] if st else []

            self._assistant = Assistant(
                self.catalog, lambda q, u, n: self.search(q, u, n), purchases, self.sentiment_of
            )
        return self._assistant

    def audience(
        self, category: str | None, item_ids: list[str], n: int
    ) -> tuple[list[tuple[str, float]], int]:
        """The ``n`` shoppers most likely to buy in ``category`` or among ``item_ids`` next,
        with their probabilities; returns (members, size of the target set)."""
        from shoprec.marketing.audience import audience

        bundle = self.bundle
        if category:
            target = np.flatnonzero(self.catalog.in_category(category, bundle.n_rows))
        else:
            target = self.catalog.indices(item_ids)
        if bundle.encoder is None or not len(target):
            return [], len(target)

        def shoppers():  # noqa: ANN202
            for user in self.states.users():
                st = self.states.get(user)
                if st is None or is_session_key(user):
                    continue
                req = self.request_for(st)
                bought = set(self.catalog.indices(sorted(st.bought)).tolist())
                yield user, req.history, req.times, bought

        members = audience(bundle.encoder, shoppers(), target, n)
        return [(m.user_id, m.score) for m in members], len(target)

    def sentiment_of(self, idx: int) -> tuple[float, int] | None:
        """(share of positive reviews, count) of an item, when reviews were scored."""
        return self.reviews.positive_share(self.catalog.ids[idx]) if idx else None

    def highlight_of(self, idx: int) -> tuple[str, str] | None:
        """(review id, first sentence) of the item's most positive review, if any."""
        return self.reviews.highlight(self.catalog.ids[idx]) if idx else None

    def price_of(self, item_id: str) -> float:
        """The catalog price of ``item_id`` (0 when unknown or unpriced): purchase revenue."""
        idx = self.catalog.get(item_id)
        price = float(self.catalog.view()[1][idx]) if idx else 0.0
        return price if price == price else 0.0

    def observe_feedback(self, impressions: int, clicks: int) -> None:
        self.stats.add_feedback(impressions, clicks)

    def event_types(self) -> list[str]:
        return [t.value for t in EventType]
