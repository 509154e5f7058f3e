"""A running server follows what other processes write into its store.

``shoprec import`` (or any other process) may append events to the embedded store's SQLite log
and upsert items into its item table while ``shoprec serve`` runs on the same folder. The
embedded server is one process that folds its own events as it stores them
(:mod:`~shoprec.serving.ingest`); :func:`follow_store` starts a daemon thread that, about every
second, reads what others wrote and applies it the same way:

- items upserted since the catalog revision it last saw (``ItemStore.changed_since``) are
  encoded and tagged off the request path, then indexed (:meth:`Engine.index_items`); items
  the catalog holds as they are (this process's own upserts) are skipped;
- events appended after the last seq it applied (``EventLog.replay(after=...)``) are folded into
  the shoppers' states, trending, the clock and reviews (:meth:`Ingest.apply_stored`), all but
  those this process appended itself, which it applied when it stored them (the log handle
  remembers their seqs: ``SQLiteEventLog.track_appends``).

Items come before events in each round, so events naming a new item find it in the catalog.
Over Redis the replicas already read every event from the stream; the stream follower
(:class:`~shoprec.serving.shared.StreamFollower`) runs a :class:`CatalogFollower` for the items.
Erasures are not followed here: one server serves an embedded store, and the erasing
process owns them; over Redis each process drops an erasure's copies in its memory when
the announcement reaches it (:mod:`~shoprec.serving.erasures`).
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from typing import TYPE_CHECKING, Protocol

from shoprec.serving.background import Background
from shoprec.store.protocols import EventLog, ItemStore

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    from shoprec.data.records import Event, Item
    from shoprec.store.sqlite import SQLiteEventLog

log = logging.getLogger(__name__)

#: Events applied per hold of the engine's write lock (requests' own events wait meanwhile).
PAGE = 2_000


class Indexer(Protocol):
    """What the catalog follower feeds: an engine."""

    def index_items(self, stored: Sequence[tuple[Item, float]]) -> int: ...


class Writer(Protocol):
    """The engine's writer (:class:`~shoprec.serving.ingest.Ingest`), as the follower uses it
    (protocols, not imports: the stream follower in ``shared.py`` uses this module too)."""

    loaded_seq: int

    @property  # read-only: a threading.Lock attribute satisfies it (a mutable one is invariant)
    def lock(self) -> AbstractContextManager[object]: ...

    def apply_stored(self, events: Sequence[Event]) -> None: ...


class Followed(Indexer, Protocol):
    """What the store follower feeds: an embedded engine."""

    @property  # read-only, so the engine's Ingest satisfies it (a mutable attribute is invariant)
    def writer(self) -> Writer: ...


class CatalogFollower:
    """Items changed in ``items`` since the last call, into the engine's catalog."""

    def __init__(self, engine: Indexer, items: ItemStore, rev: int = 0) -> None:
        self.engine, self.items, self.rev = engine, items, rev

    def step(self) -> int:
        """Index the items changed since the last step; returns how many changed the catalog
        (the first step reads every item and skips those loaded already)."""
        changed, rev = self.items.changed_since(self.rev)
        n = self.engine.index_items(changed) if changed else 0
        self.rev = rev  # after indexing: a failure retries the same items
        if n:
            log.info("catalog: %d items changed by another process", n)
        return n


class StoreFollower(Background):
    """The thread of :func:`follow_store`; :meth:`step` is one round (tests call it)."""

    def __init__(
        self,
        engine: Followed,
        events: SQLiteEventLog,
        items: ItemStore,
        after: int,
        interval: float,
    ) -> None:
        self.engine, self.events, self.position, self.interval = engine, events, after, interval
        self.catalog = CatalogFollower(engine, items)
        super().__init__("store-follower")
        events.track_appends()

    def step(self) -> tuple[int, int]:
        """One round: the changed items, then the events others appended; returns how many of
        each were applied."""
        n_items = self.catalog.step()
        writer = self.engine.writer
        n_events, full = 0, True
        while full:
            with writer.lock:  # this process's own appends are complete and remembered
                start = self.position
                page = []
                for seq, event in self.events.replay(after=start, batch_size=PAGE):
                    page.append((seq, event))
                    if len(page) == PAGE:
                        break
                if not page:
                    break
                own = self.events.appended_here(start)
                theirs = [e for seq, e in page if not _within(seq, own)]
                # moved on first: a page that fails is logged and skipped, never half re-applied
                self.position, full = page[-1][0], len(page) == PAGE
                writer.apply_stored(theirs)
            n_events += len(theirs)
        if n_events:
            log.info("followed %d events appended by another process", n_events)
        return n_items, n_events

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:  # keep following: one bad round must not stop the server's
                log.exception("store follower round failed")


def _within(seq: int, ranges: list[tuple[int, int]]) -> bool:
    """Whether ``seq`` lies in one of ``ranges`` (``(first, last)``, ascending, disjoint)."""
    k = bisect_right(ranges, (seq, float("inf"))) - 1
    return k >= 0 and ranges[k][0] <= seq <= ranges[k][1]


def follow_store(
    engine: Followed,
    events: EventLog,
    items: ItemStore,
    interval: float = 1.0,
    after: int | None = None,
) -> StoreFollower:
    """Start following what other processes write into the embedded store (module doc).

    Parameters
    ----------
    engine : the embedded engine over ``events`` and ``items`` (loaded: :meth:`Engine.load`).
    events : its SQLite event log handle (the one the engine appends through).
    items : its item store.
    interval : seconds between rounds.
    after : the last seq the engine applied (default: the last one its start-up replay read).

    Returns
    -------
    StoreFollower
        The started daemon thread; ``.stop()`` ends it.
    """
    from shoprec.store.sqlite import SQLiteEventLog

    if not isinstance(events, SQLiteEventLog):
        raise TypeError(
            f"follow_store follows an embedded SQLite log, not {type(events).__name__} "
            "(Redis replicas follow the stream: serving/shared.py)"
        )
    start = engine.writer.loaded_seq if after is None else after
    return StoreFollower(engine, events, items, start, interval).start()
