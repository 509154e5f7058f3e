"""Product search: lexical (TF-IDF over titles and text) plus semantic (the text encoder),
fused by reciprocal rank, then re-ranked for the shopper.

The lexical index is rebuilt lazily after catalog changes (at most every ``rebuild_s``); an
item added in between is still found through its text vector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from shoprec.models.sasrec_infer import SASRecEncoder
from shoprec.ranking.candidates import Request
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.explain import tag_phrase

RRF_K = 60.0
POOL = 200
#: Weights of the shopper's signals in the re-ranked score (the match itself weighs up to 1):
#: the sequence model's rank of the item, and the shopper's interest in its tags.
SEQUENCE_WEIGHT, INTEREST_WEIGHT = 0.3, 0.2

#: ``(catalog index, score, reasons)``: one answer of a search.
Hit = tuple[int, float, list[str]]


class ProductSearch:
    """Parameters
    ----------
    catalog : the live catalog (its text vectors are the semantic index).
    embed : query texts -> ``(N, 384)`` unit vectors.
    rebuild_s : minimum seconds between lexical index rebuilds.
    """

    def __init__(
        self, catalog: Catalog, embed: Callable[[list[str]], np.ndarray], rebuild_s: float = 30.0
    ) -> None:
        self.catalog, self.embed, self.rebuild_s = catalog, embed, rebuild_s
        self._lock = threading.Lock()
        self._built_n = -1
        self._built_at = 0.0
        self._vectorizer = None
        self._matrix = None  # (N + 1, V) csr, row 0 empty

    def _lexical_index(self) -> None:
        n = len(self.catalog)
        if self._matrix is not None and n == self._built_n:
            return
        from scipy.sparse import vstack
        from sklearn.feature_extraction.text import TfidfVectorizer

        with self._lock:
            texts = [it.text() if it else "" for it in self.catalog.items[: n + 1]]
            texts[0] = ""
            if self._matrix is None or time.monotonic() - self._built_at > self.rebuild_s:
                vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, max_df=0.5)
                self._matrix = vec.fit_transform(texts).tocsr()
                self._vectorizer = vec
                self._built_at = time.monotonic()
            elif n > self._built_n:
                # items added since the last fit are searchable at once, in its vocabulary
                # (a refit, which learns their new words, waits for rebuild_s)
                assert self._vectorizer is not None
                added = self._vectorizer.transform(texts[self._built_n + 1 :])
                self._matrix = vstack([self._matrix, added]).tocsr()
            self._built_n = n

    def search(self, query: str, n_rows: int, pool: int = POOL) -> tuple[np.ndarray, np.ndarray]:
        """Fused candidates for ``query``: ``(ids, rrf scores)``, best first, ids < n_rows."""
        self._lexical_index()
        assert self._vectorizer is not None and self._matrix is not None
        lex = np.asarray((self._matrix @ self._vectorizer.transform([query]).T).todense()).ravel()
        lex = np.pad(lex, (0, max(0, n_rows - len(lex))))[:n_rows]
        vectors = self.catalog.view().vectors[:n_rows]
        sem = vectors @ self.embed([query])[0]
        sem[0] = -np.inf
        fused = np.zeros(n_rows)
        for scores, floor in ((lex, 0.0), (sem, -np.inf)):
            k = min(pool, n_rows - 1)
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            top = top[scores[top] > floor]
            fused[top] += 1.0 / (RRF_K + np.arange(1, len(top) + 1))
        ids = np.flatnonzero(fused > 0)
        order = np.argsort(-fused[ids], kind="stable")
        return ids[order], fused[ids][order]

    def ranked(
        self,
        query: str,
        n: int,
        n_rows: int,
        encoder: SASRecEncoder | None = None,
        shopper: Callable[[], Request] | None = None,
    ) -> list[Hit]:
        """The ``n`` best in-stock matches for ``query`` among the first ``n_rows`` items,
        re-ranked for the shopper (:func:`rerank`); ``shopper`` is asked only when there are
        matches (it may read a store)."""
        ids, rrf = self.search(query, n_rows)
        return rerank(self.catalog, query, ids, rrf, n, encoder, shopper)


def rerank(
    catalog: Catalog,
    query: str,
    ids: np.ndarray,
    rrf: np.ndarray,
    n: int,
    encoder: SASRecEncoder | None = None,
    shopper: Callable[[], Request] | None = None,
) -> list[Hit]:
    """Fused matches ``(ids, rrf)`` kept in stock, scored by the match (normalised to 1 for the
    best) plus the shopper's signals: the sequence model's rank of the item among the matches
    and the shopper's interest in its tags; each with the reasons it can state."""
    keep = catalog.view().in_stock[ids]
    ids, rrf = ids[keep], rrf[keep]
    if not len(ids):
        return []
    score = rrf / rrf.max()
    personal = np.zeros(len(ids))
    req = shopper() if shopper is not None else None
    if req is not None and encoder is not None and len(req.history):
        seq = encoder.scores(req.history, req.times)[ids]
        personal += SEQUENCE_WEIGHT * (np.argsort(np.argsort(seq)) / max(1, len(ids) - 1))
    best_tag = [""] * len(ids)
    if req is not None and req.interests:
        for k, i in enumerate(ids.tolist()):
            w = {lab: req.interests.get(lab, 0.0) for lab in catalog.labels[i]}
            if w and max(w.values()) > 0:
                best_tag[k] = max(w, key=w.__getitem__)
                personal[k] += INTEREST_WEIGHT * min(1.0, sum(w.values()) * 3)
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
