"""The engine's writes: events into the durable log, then into the shoppers' states (through
the :mod:`~shoprec.serving.backend`), trending, the clock, review sentiment and the running
experiment, under one lock, before the request is acknowledged; so the very next request sees
them. Also the catalog's items, a shopper's erasure, and the rebuild of it all at start-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from shoprec.data.event_types import trending_weight
from shoprec.data.keys import session_key
from shoprec.data.records import Event, EventType, Item
from shoprec.experiments.registry import ExperimentRegistry
from shoprec.online.state import UserState
from shoprec.online.tags import ItemTagger, tags_for_catalog
from shoprec.ranking.bundle import extend, restate
from shoprec.ranking.catalog import add_items
from shoprec.serving.backend import StateBackend
from shoprec.serving.live import Live
from shoprec.serving.reviews import ReviewScoring, review_id
from shoprec.serving.stats import Counters, LiveStats
from shoprec.store.errors import StoreUnavailable
from shoprec.store.protocols import EventLog, ItemStore

log = logging.getLogger(__name__)

#: Events replayed per batch at start-up.
REPLAY_PAGE = 10_000


class NotApplied(StoreUnavailable):
    """Events were stored, but applying them (states, trending, experiment) failed: they are
    owed and applied before any later event; a resend is acknowledged once they are."""


class Ingest:
    """Parameters
    ----------
    live : what the engine's jobs share (catalog, trending, states, bundle, clock).
    backend : where shoppers' states are folded (this process or Redis).
    events, items : the event log and the item store.
    reviews : the review sentiment the review events are scored into.
    vectorize : texts -> ``(N, 384)`` unit text vectors (new items').
    tagger : zero-shot tagger for items without catalog categories (None: catalog tags only).
    """

    def __init__(
        self,
        live: Live,
        backend: StateBackend,
        events: EventLog,
        items: ItemStore,
        reviews: ReviewScoring,
        stats: LiveStats,
        counters: Counters,
        vectorize: Callable[[list[str]], np.ndarray],
        tagger: ItemTagger | None = None,
    ) -> None:
        self.live, self.backend, self.events, self.items = live, backend, events, items
        self.reviews, self.stats, self.counters = reviews, stats, counters
        self.vectorize, self.tagger = vectorize, tagger
        self.lock = threading.Lock()  # one writer at a time: log, states, trending, reviews
        #: the last seq :meth:`load` replayed (a store follower goes on from there)
        self.loaded_seq = 0
        #: stored events whose application failed, with the steps still to run
        self._owed: tuple[list[Event], list[Callable[[], None]]] | None = None

    # -- start-up ---------------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the catalog, trending, reviews and (embedded) every shopper's state from the
        stores (after a restart)."""
        live = self.live
        stored = self.items.all()
        if stored:
            self._add_items([it for it, _ in stored], [t for _, t in stored])
        self.backend.reset()
        live.trending.clear()
        n = 0
        reviews: list[Event] = []
        page: list[Event] = []
        for seq, event in self.events.replay():
            self.loaded_seq = seq
            page.append(event)
            if event.type is EventType.REVIEW and event.text:
                reviews.append(event)
            if len(page) == REPLAY_PAGE:
                self._replayed(page)
                n, page = n + len(page), []
        self._replayed(page)
        n += len(page)
        self.reviews.score(reviews)
        live.bundle = extend(live.bundle, live.catalog)
        log.info(
            "state rebuilt: %d items, %d events, %d shoppers",
            len(live.catalog),
            n,
            len(live.states),
        )

    def _replayed(self, events: Sequence[Event]) -> None:
        self.backend.replayed(events, self.fold)
        self._track(events)

    # -- events -----------------------------------------------------------------------------
    def ingest(self, events: Sequence[Event], experiments: ExperimentRegistry) -> tuple[int, int]:
        """Durably log ``events`` and apply the new ones; returns (accepted, duplicates).

        Raises :class:`~shoprec.serving.clock.OutOfWindow` (nothing stored) for an event time
        the clock refuses, and :class:`NotApplied` when the events were stored but applying
        them failed twice: they are owed, and applied before any later event (a resend of
        the same ``event_id`` values is then acknowledged as accepted, not as duplicates)."""
        with self.lock:
            self.live.time.check(events)
            settled = self._settle(experiments)
            stored = self.events.append(events)
            fresh = [e for e, new in zip(events, stored, strict=True) if new]
            self._apply(fresh, experiments)
            # a resend of events stored before but applied only now: acknowledged as new
            late = [e.event_id in settled for e in events]
            accepted = sum(a or b for a, b in zip(stored, late, strict=True))
            self.stats.add_events(accepted)
            self.counters.events += accepted
            self.counters.duplicates += len(events) - accepted
        return accepted, len(events) - accepted

    def _apply(self, fresh: list[Event], experiments: ExperimentRegistry) -> None:
        """After the commit: the states, trending, clock and reviews, then the running
        experiment. A step that fails is owed, with the steps after it, and run again whole
        before the next events (:meth:`_settle`)."""
        steps: list[Callable[[], None]] = [
            lambda: self.backend.ingested(fresh, self.fold, self._observe),
            lambda: self.live.time.accepted(fresh),
        ]
        if experiments.running is not None:  # attribute to the serving variant
            steps.append(lambda: experiments.on_events(fresh, self.live.catalog.price_of))
        for k, step in enumerate(steps):
            try:
                step()
            except Exception as exc:  # stored: never a 500 that a deduplicated resend hides
                self._owed = (fresh, steps[k:])
                log.exception("applying %d stored event(s) failed; owed", len(fresh))
                raise NotApplied(f"events stored but not yet applied ({exc})") from exc

    def _settle(self, experiments: ExperimentRegistry) -> set[str | None]:
        """Apply what a failed :meth:`_apply` owes, first (so events apply in log order);
        returns the owed events' ids. Raises :class:`NotApplied` while it still fails."""
        if self._owed is None:
            return set()
        events, steps = self._owed
        for k, step in enumerate(steps):
            try:
                step()
            except Exception as exc:
                self._owed = (events, steps[k:])
                raise NotApplied(f"earlier events stored but not yet applied ({exc})") from exc
        self._owed = None
        log.info("applied %d owed event(s)", len(events))
        return {e.event_id for e in events if e.event_id is not None}

    def apply_stored(self, events: Sequence[Event]) -> None:
        """Events another process appended to this process's log (read back by
        :mod:`~shoprec.serving.follow`), applied as :meth:`ingest` applies its own: the
        shoppers' states, trending, the clock and reviews. Call with :attr:`lock` held."""
        self.backend.ingested(events, self.fold, self._observe)

    def observe(self, events: Sequence[Event]) -> None:
        """Events read from the shared stream (any replica's): trending, clock, reviews."""
        with self.lock:
            self._observe(events)

    def _observe(self, events: Sequence[Event]) -> None:
        self._track(events)
        self.reviews.score(events)

    def _track(self, events: Sequence[Event]) -> None:
        """The clock and trending after ``events`` read back from a log (trending counts
        catalog items only; events timed beyond the clock's window are left out)."""
        events = self.live.time.stored(events)
        if not events:
            return
        get = self.live.catalog.get
        hit: list[tuple[int, float, float]] = []  # (index, weight, time) of catalog items
        for event in events:
            idx = get(event.item_id) if event.item_id else 0
            weight = trending_weight(event.type)  # by role: declared types too
            if idx and weight:  # an impression (weight 0) is exposure, not demand
                hit.append((idx, weight, event.timestamp))
        if hit:
            idx_a, w_a, t_a = (np.array(col) for col in zip(*hit, strict=True))
            self.live.trending.add_many(idx_a, w_a, t_a)

    def fold(self, state: UserState | None, events: list[Event]) -> UserState:
        """``state`` (or a new one) with ``events`` applied, their items' tags looked up."""
        state = state or UserState()
        catalog = self.live.catalog
        for event in events:
            idx = catalog.get(event.item_id) if event.item_id else 0
            state.apply(event, list(catalog.labels[idx]) if idx else None)
        return state

    # -- items and erasure ------------------------------------------------------------------
    def upsert_items(self, items: Sequence[Item], now: float | None = None) -> np.ndarray:
        """Store and index items; new ones are recommendable at once (by their text). Added at
        ``now``, default the clock's (under the data clock the data's time, so that an item
        upserted now is a new arrival by the clock that serves it)."""
        now = self.live.time.stamp() if now is None else now
        items = list(items)
        # encoded and tagged before the lock, as index_items does: no event waits on the
        # encoder, and the store follower cannot find the stored row while the catalog still
        # holds the old one (it encoded the same text a second time, beside this request)
        vectors = self.vectorize([it.text() for it in items])
        tags = tags_for_catalog(items, vectors, self.tagger)
        with self.lock:
            self.items.upsert(items, now)
            idx = self.live.catalog.upsert(items, vectors, tags, [now] * len(items))
            self.live.bundle = extend(self.live.bundle, self.live.catalog)
            # past SHOPREC_ANN_MIN_ITEMS: a changed text is added to the bundle's index too
            self.live.bundle = restate(self.live.bundle, self.live.catalog, idx)
        return idx

    def index_items(self, stored: Sequence[tuple[Item, float]]) -> int:
        """Items another process upserted into the item store, read back with their first
        ``added_at``, into the catalog as :meth:`upsert_items` indexes its own; those the
        catalog holds as they are are skipped. Their text is encoded and tagged before the
        lock is taken, so no event waits on the encoder. Returns how many were indexed."""
        catalog = self.live.catalog
        fresh = [(it, t) for it, t in stored if catalog.items[catalog.get(it.item_id)] != it]
        if not fresh:
            return 0
        items = [it for it, _ in fresh]
        vectors = self.vectorize([it.text() for it in items])
        tags = tags_for_catalog(items, vectors, self.tagger)
        with self.lock:
            idx = catalog.upsert(items, vectors, tags, [t for _, t in fresh])
            self.live.bundle = restate(extend(self.live.bundle, catalog), catalog, idx)
        return len(items)

    def _add_items(self, items: list[Item], added_at: list[float]) -> np.ndarray:
        return add_items(self.live.catalog, items, added_at, self.vectorize, self.tagger)

    def delete_user(self, user_id: str, experiments: ExperimentRegistry) -> int:
        """Erase the user's events, state, experiment records and reviews, with the anonymous
        sessions they signed in from; returns the number of events erased.

        The log is read and rewritten (a WAL checkpoint, maybe a wait for readers) without the
        engine's lock, so events keep being acknowledged meanwhile; the lock is held only for
        the last step: events of theirs appended during the erasure, and the live states."""
        theirs = self.events.user_events(user_id)
        sessions = {e.session_id for e in theirs if e.session_id}
        n = self.events.delete_user(user_id)
        for session_id in sorted(sessions):  # the anonymous events merged at login, or since
            n += self.events.delete_session(session_id)
        with self.lock:  # no ingest between the last look at the log and the states' removal
            late = self.events.user_events(user_id)
            if late:
                n += self.events.delete_user(user_id)
                theirs += late
                sessions |= {e.session_id for e in late if e.session_id}
            keys = [user_id, *map(session_key, sorted(sessions))]
            for key in keys:  # the user's state holds the sessions merged into it at login
                self.live.states.delete(key)
            gone = {review_id(e) for e in theirs if e.type is EventType.REVIEW}
            if gone:
                self.reviews.reviews.remove_reviews(gone)
        for key in keys:  # outside the lock: store round trips and export files can be big
            experiments.forget(key)
            self.backend.erase(key)
        self.backend.announce(keys, gone)  # the other processes drop their copies
        return n

    def delete_session(self, session_id: str, experiments: ExperimentRegistry) -> int:
        """Erase an anonymous session: its anonymous events, its state and its experiment
        records; returns the number of events erased. (A session merged into a user at sign-in
        lives on in the user's state: erase the user for that.)"""
        key = session_key(session_id)
        n = self.events.delete_session(session_id)  # a scan of the log: without the lock
        with self.lock:
            self.live.states.delete(key)
        experiments.forget(key)
        self.backend.erase(key)
        self.backend.announce([key], set())
        return n
