"""Product search: lexical (BM25 on SQLite FTS5 over titles and text, :mod:`.lexical`) plus
semantic (the text encoder), fused by reciprocal rank, then re-ranked for the shopper.

Both sides follow the catalog as it changes, re-reading only the rows upserted since they last
looked: the lexical index before each query, the semantic side's remembered list per query.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shoprec.models.sasrec_infer import SASRecEncoder
from shoprec.nlp.lexical import LexicalIndex
from shoprec.nlp.semantic import SemanticTop
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
    """

    def __init__(self, catalog: Catalog, embed: Callable[[list[str]], np.ndarray]) -> None:
        self.catalog, self.embed = catalog, embed
        self.lexical = LexicalIndex(catalog)
        self.semantic = SemanticTop(catalog, embed)

    def search(self, query: str, n_rows: int, pool: int = POOL) -> tuple[np.ndarray, np.ndarray]:
        """Fused candidates for ``query``: ``(ids, rrf scores)``, best first, ids < n_rows."""
        lex_ids, _ = self.lexical.search(query, pool, n_rows)
        sem_ids = self.semantic.top(query, pool, n_rows)
        fused = np.zeros(n_rows)
        for top in (lex_ids, sem_ids):
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
