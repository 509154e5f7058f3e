"""Semantic side of product search: the items whose text vectors are nearest a query's, the best
first, remembered per recent query and kept exact as the catalog changes.

A full scan multiplies every item vector by the query (about 2 ms of CPU on Beauty's 12,101
items, most of a search's cost); a repeated query instead re-scores only the rows upserted since
it was last answered (:attr:`Catalog.stamp`) and merges them into its remembered list.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shoprec.compute.ann import AnnIndex
from shoprec.ranking.catalog import Catalog

#: Queries whose lists are remembered (least recently asked dropped first).
MEMORY = 512
#: A list keeps this many times the rows asked for, so that rows falling out after an upsert
#: are replaced from it rather than by a full scan.
SPARE = 2
#: Past this share of the rows changed, a list is made again by a full scan rather than
#: merged (re-scoring most rows one by one costs several scans: copies, set operations).
RESCORE_AT = 0.05


@dataclass(frozen=True, slots=True)
class _Top:
    generation: int  # the catalog's, when this list was made
    stamped: int  # rows that generation had stamped then (its upsert may have been writing)
    n_rows: int
    ids: np.ndarray  # best first
    scores: np.ndarray
    floor: float  # no row outside ``ids`` (and unchanged since) scores above this


class SemanticTop:
    """Parameters
    ----------
    catalog : the live catalog (its text vectors).
    embed : query texts -> ``(N, D)`` unit vectors.
    """

    def __init__(self, catalog: Catalog, embed: Callable[[list[str]], np.ndarray]) -> None:
        self.catalog, self.embed = catalog, embed
        self._lists: OrderedDict[str, _Top] = OrderedDict()
        self._lock = threading.Lock()
        # per generation a remembered list was made at: the rows it had stamped when first seen
        # as the latest, and (once it is over) the rows it stamped after that
        self._seen: dict[int, np.ndarray] = {}
        self._late: dict[int, np.ndarray] = {}
        #: the served bundle's text index (a catalog past ``SHOPREC_ANN_MIN_ITEMS``), else None:
        #: a full scan then asks it for a short list instead of multiplying every row
        self.index_of: Callable[[], AnnIndex | None] = lambda: None

    def top(self, query: str, k: int, n_rows: int) -> np.ndarray:
        """Ids (1 to ``n_rows - 1``) of the ``k`` items nearest ``query``, best first."""
        k = min(k, n_rows - 1)
        if k <= 0:
            return np.zeros(0, np.int64)
        # read before the vectors: later writes are re-read next time
        generation = self.catalog.generation
        stamped = int(np.count_nonzero(self.catalog.stamp[:n_rows] == generation))
        with self._lock:
            old = self._lists.get(query)
            self._first_sight(generation)
        vec = self.embed([query])[0]
        now = (generation, stamped)
        new = self._update(old, vec, k, n_rows, now) if old is not None else None
        if new is None:
            new = self._scan(vec, k, n_rows, now)
        with self._lock:
            self._lists[query] = new
            self._lists.move_to_end(query)
            while len(self._lists) > MEMORY:
                self._lists.popitem(last=False)
        return new.ids[:k]

    def _first_sight(self, generation: int) -> None:
        """Note the rows ``generation`` has stamped so far (before any list made at it reads a
        vector, so every list made at it scored them); forget generations no list was made at.
        Under ``self._lock``."""
        if generation in self._seen:
            return
        cat = self.catalog
        self._seen[generation] = np.flatnonzero(cat.stamp[: len(cat) + 1] == generation)
        keep = {t.generation for t in self._lists.values()} | {generation}
        for g in [g for g in self._seen if g not in keep]:
            del self._seen[g]
            self._late.pop(g, None)

    def _late_rows(self, generation: int) -> np.ndarray | None:
        """Rows the (finished) upsert ``generation`` stamped after it was first seen, which a
        list made at it may have missed; None when not known (then all its rows are suspect)."""
        with self._lock:
            if generation in self._late:
                return self._late[generation]
            if generation not in self._seen:
                return None
            cat = self.catalog
            now = np.flatnonzero(cat.stamp[: len(cat) + 1] == generation)
            late = np.setdiff1d(now, self._seen[generation], assume_unique=True)
            self._late[generation] = late
            return late

    def _scan(self, vec: np.ndarray, k: int, n_rows: int, now: tuple[int, int]) -> _Top:
        index = self.index_of()
        if index is not None:
            return self._indexed(index, vec, k, n_rows, now)
        scores = self.catalog.view().vectors[:n_rows] @ vec
        scores[0] = -np.inf
        keep = min(SPARE * k, n_rows - 1)
        ids = np.argpartition(-scores, keep - 1)[:keep]
        ids = ids[np.argsort(-scores[ids], kind="stable")]
        rest = np.delete(scores, np.append(ids, 0))
        floor = float(rest.max()) if len(rest) else -np.inf
        return _Top(*now, n_rows, ids, scores[ids], floor)

    def _indexed(
        self, index: AnnIndex, vec: np.ndarray, k: int, n_rows: int, now: tuple[int, int]
    ) -> _Top:
        """:meth:`_scan` over the index's answers, scored exactly against the current vectors;
        its floor is the last kept score (approximate: a row the index missed may beat it)."""
        keep = min(SPARE * k, n_rows - 1)
        found, _ = index.search(vec[None], keep + 1)
        ids = np.unique(found[0])
        ids = ids[(ids > 0) & (ids < n_rows)]
        scores = self.catalog.view().vectors[ids] @ vec
        order = np.argsort(-scores, kind="stable")[:keep]
        ids, scores = ids[order], scores[order]
        floor = float(scores[-1]) if len(scores) else -np.inf
        return _Top(*now, n_rows, ids, scores, floor)

    def _update(
        self, old: _Top, vec: np.ndarray, k: int, n_rows: int, now: tuple[int, int]
    ) -> _Top | None:
        """``old`` with the rows changed since re-scored; None when it can no longer say the
        ``k`` best exactly (a full scan is due)."""
        if n_rows < old.n_rows or len(old.ids) < k:
            return None
        if now == (old.generation, old.stamped) and n_rows == old.n_rows:
            return old
        stamp = self.catalog.stamp[:n_rows]
        # Catalog.upsert counts the generation up before it stamps its rows, so rows of
        # ``old.generation`` may have been written after ``old`` was made: while it is the
        # latest, all of its rows are re-scored; once over, the ones it stamped after it was
        # first seen (none, unless that upsert was still writing then)
        late = self._late_rows(old.generation) if now[0] > old.generation else None
        if late is None:
            changed = np.flatnonzero(stamp >= old.generation)
        else:
            changed = np.union1d(np.flatnonzero(stamp > old.generation), late[late < n_rows])
        changed = np.union1d(changed[changed > 0], np.arange(max(1, old.n_rows), n_rows))
        if len(changed) > RESCORE_AT * n_rows:
            return None  # a scan is cheaper (a list made at the catalog's first generation)
        keep = ~np.isin(old.ids, changed)
        fresh = self.catalog.view().vectors[changed] @ vec if len(changed) else np.zeros(0)
        ids = np.concatenate([old.ids[keep], changed])
        scores = np.concatenate([old.scores[keep], fresh])
        order = np.argsort(-scores, kind="stable")
        ids, scores = ids[order], scores[order]
        limit = max(SPARE * k, len(old.ids))
        floor = max(old.floor, float(scores[limit]) if len(scores) > limit else -np.inf)
        ids, scores = ids[:limit], scores[:limit]
        if len(ids) < k or scores[k - 1] < floor:
            return None  # rows that left the list may hide better ones outside it
        return _Top(*now, n_rows, ids, scores, floor)
