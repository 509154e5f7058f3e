"""The engine behind the API: the stores, the live catalog and online state, the model bundle
and the pipeline, with the operations the routes call. It assembles the jobs and hands each
call to one:

- :mod:`~shoprec.serving.ingest`: events into the log, the shoppers' states, trending, the
  clock, review sentiment and the running experiment; items; erasure; the start-up rebuild.
- :mod:`~shoprec.serving.recommend`: the home feed and similar items through ``ranking/``.
- :mod:`~shoprec.serving.discovery`: search, the assistant (``nlp/``) and audiences
  (``marketing/``).
- :mod:`~shoprec.serving.reviews`: the review sentiment model serving and what it scored.

Where the shoppers' states live, in this process or in Redis shared by replicas, is one
:mod:`~shoprec.serving.backend` chosen here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from shoprec.data.records import Event, Item
from shoprec.experiments.registry import ExperimentRegistry
from shoprec.online.state import UserState
from shoprec.online.tags import ItemTagger
from shoprec.online.trending import Trending
from shoprec.ranking.bundle import ModelBundle, build_bundle, extend
from shoprec.ranking.candidates import Request
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.pipeline import Pipeline
from shoprec.ranking.rules import RuleBook
from shoprec.ranking.strategy import Strategy
from shoprec.serving.backend import EmbeddedBackend, SharedBackend, StateBackend
from shoprec.serving.census import Census
from shoprec.serving.clock import EngineClock
from shoprec.serving.discovery import Discovery
from shoprec.serving.ingest import Ingest
from shoprec.serving.live import Live
from shoprec.serving.pages import Pages
from shoprec.serving.recommend import Recommender
from shoprec.serving.reviews import ReviewScoring
from shoprec.serving.stats import Counters, LiveStats
from shoprec.store.memory import MemoryStateStore
from shoprec.store.protocols import EventLog, ItemStore, StateStore

if TYPE_CHECKING:
    from shoprec.nlp.assistant import Assistant
    from shoprec.nlp.search import Hit
    from shoprec.nlp.sentiment import SentimentModel
    from shoprec.serving.sentiment import ServedSentiment
    from shoprec.serving.shared import SharedState


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
    shared : the Redis stores shared by replicas (None: embedded, one process).
    clock : the engine's clock and the window of event times it accepts (default: the data
        clock, :mod:`~shoprec.serving.clock`).
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
        clock: EngineClock | None = None,
    ) -> None:
        self.events, self.items, self.states, self.shared = events, items, states, shared
        self.catalog = Catalog()
        self.trending = Trending()
        empty = build_bundle(self.catalog, None, None, None, [])
        self.live = Live(self.catalog, self.trending, states, empty, clock or EngineClock())
        #: the shop's business rules (build_engine swaps in the durable store)
        self.rules = RuleBook(MemoryStateStore[dict]())
        self.pipeline = Pipeline(self.catalog, strategy, rules=self.rules)
        # A/B tests over strategies; build_engine swaps in a durable store
        self.experiments = ExperimentRegistry(MemoryStateStore[dict]())
        self.counters = Counters()
        self.stats = LiveStats()
        #: the shopper count and sample, walked at most every 30 s (not per request)
        self.census = Census(states)
        self.review_scoring = ReviewScoring(self.catalog, sentiment)
        self.reviews = self.review_scoring.reviews
        backend: StateBackend = (
            SharedBackend(shared) if shared is not None else EmbeddedBackend(states)
        )
        self.writer = Ingest(
            self.live,
            backend,
            events,
            items,
            self.review_scoring,
            self.stats,
            self.counters,
            vectorize,
            tagger,
        )
        self.recommender = Recommender(
            self.live, self.pipeline, self.review_scoring, self.stats, self.counters
        )
        #: the home feed, as the routes call it (the recommender's own method)
        self.recommend = self.recommender.recommend
        #: a caller's list re-ranked for the shopper (``POST /v1/rank``), likewise
        self.rank = self.recommender.rank
        self.discovery = Discovery(self.live, self.review_scoring, vectorize)
        #: recommendation ids and the pages of served lists (build_engine sizes it)
        self.pages = Pages()

    @property
    def bundle(self) -> ModelBundle:
        """The models serving now (swapped whole by :meth:`set_bundle`)."""
        return self.live.bundle

    @property
    def clock(self) -> float:
        """Now for decay, trending and new arrivals: the wall clock, or under the data clock
        the latest accepted event time (:mod:`~shoprec.serving.clock`)."""
        return self.live.clock

    def stamp(self) -> float:
        """The time given to an event sent without one."""
        return self.live.time.stamp()

    # -- start-up and reload ----------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the catalog and every user's state from the stores (after a restart)."""
        self.writer.load()

    def set_bundle(self, bundle: ModelBundle) -> None:
        """Swap in new models (hot reload): one reference assignment, no request fails."""
        with self.writer.lock:  # not between an item upsert's read and write of the bundle
            self.live.bundle = extend(bundle, self.catalog)

    # -- writes -----------------------------------------------------------------------------
    def ingest(self, events: Sequence[Event]) -> tuple[int, int]:
        """Durably log ``events`` and apply the new ones; returns (accepted, duplicates).
        Raises ``OutOfWindow`` (an event time refused, nothing stored) and
        ``StoreUnavailable`` (not acknowledged: resend)."""
        return self.writer.ingest(events, self.experiments)

    def fold(self, state: UserState | None, events: list[Event]) -> UserState:
        """``state`` (or a new one) with ``events`` applied: the shared stores' fold."""
        return self.writer.fold(state, events)

    def observe(self, events: Sequence[Event]) -> None:
        """Events read from the shared stream (any replica's): trending, clock, reviews."""
        self.writer.observe(events)

    def upsert_items(self, items: Sequence[Item], now: float | None = None) -> np.ndarray:
        """Store and index items; new ones are recommendable at once (by their text)."""
        return self.writer.upsert_items(items, now)

    def index_items(self, stored: Sequence[tuple[Item, float]]) -> int:
        """Items another process upserted (``(item, added_at)`` read back from the item store)
        into the catalog, text encoded off the request path; returns how many changed."""
        return self.writer.index_items(stored)

    def delete_user(self, user_id: str) -> int:
        """Erase the user's events and state; returns the number of events erased."""
        n = self.writer.delete_user(user_id, self.experiments)
        self.census.forget()
        return n

    def delete_session(self, session_id: str) -> int:
        """Erase an anonymous session's events and state; returns the number of events."""
        return self.writer.delete_session(session_id, self.experiments)

    def erased(self, keys: set[str], reviews: set[str]) -> None:
        """Another process erased shoppers (``keys`` and ``reviews`` as digests,
        :mod:`~shoprec.serving.erasures`): drop their reviews and the cached shopper sample."""
        from shoprec.serving.erasures import digest

        if reviews:
            held = self.reviews.snapshot()
            gone = {r.review_id for _, r in held if digest(r.review_id) in reviews}
            if gone:
                self.reviews.remove_reviews(gone)
        self.census.forget()

    # -- review sentiment -------------------------------------------------------------------
    @property
    def sentiment_reason(self) -> str:
        """Why no review sentiment model serves (while none does)."""
        return self.review_scoring.reason

    def sentiment_served(self) -> ServedSentiment | None:
        """The review sentiment model serving now, with its name and version; None while
        there is none (:attr:`sentiment_reason` says why)."""
        return self.review_scoring.served()

    def sentiment_model(self) -> SentimentModel | None:
        """The bare model of :meth:`sentiment_served` (None while there is none)."""
        return self.review_scoring.model()

    def switch_sentiment(self, served: ServedSentiment) -> None:
        """Serve ``served`` from now on, every stored review rescored by it."""
        self.review_scoring.switch(served, self.writer.lock)

    def sentiment_of(self, idx: int) -> tuple[float, int] | None:
        """(share of positive reviews, count) of an item, when reviews were scored."""
        return self.review_scoring.sentiment_of(idx)

    def highlight_of(self, idx: int) -> tuple[str, str] | None:
        """(review id, first sentence) of the item's most positive review, if any."""
        return self.review_scoring.highlight_of(idx)

    # -- reads ------------------------------------------------------------------------------
    def state(self, user_id: str) -> UserState | None:
        return self.states.get(user_id)

    def request_for(self, state: UserState | None) -> Request:
        """The pipeline's view of a shopper: recent items in catalog indices, interests."""
        return self.recommender.request_for(state)

    def similar(
        self,
        item_id: str,
        n: int = 10,
        user_id: str | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[int, float, str]]:
        """Items like ``item_id``, in stock, none that ``user_id`` bought nor in ``exclude``."""
        return self.recommender.similar(item_id, n, user_id, exclude)

    def search(
        self, query: str, user_id: str | None = None, n: int = 20, exclude: Collection[str] = ()
    ) -> list[Hit]:
        """Lexical + semantic matches for ``query``, re-ranked for the shopper when known;
        none in ``exclude`` (item ids)."""
        return self.discovery.search(query, user_id, n, exclude)

    def assistant(self) -> Assistant:
        """The shopping assistant over this engine's catalog, search and purchases."""
        return self.discovery.assistant()

    def audience(
        self, category: str | None, item_ids: list[str], n: int
    ) -> tuple[list[tuple[str, float]], int]:
        """The ``n`` shoppers most likely to buy in ``category`` or among ``item_ids`` next,
        with their probabilities; returns (members, size of the target set)."""
        return self.discovery.audience(category, item_ids, n)

    def observe_feedback(self, impressions: int, clicks: int) -> None:
        self.stats.add_feedback(impressions, clicks)
