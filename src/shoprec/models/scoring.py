"""Shared numpy scoring: masking and top-k, the same for every model."""

from __future__ import annotations

import numpy as np

from shoprec.compute.ann import AnnIndex
from shoprec.models.base import Recommender

#: Text neighbours kept per item (the text-similarity candidates, the sequence model's text lift).
TEXT_K = 50


def mask_histories(scores: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
    """Set ``scores[b, histories[b]] = -inf`` in place, and padding column 0; returns ``scores``."""
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    if len(rows):
        scores[rows, np.concatenate(histories)] = -np.inf
    scores[:, 0] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns per row, best first.

    Returns
    -------
    ids : (B, k) int64; scores : (B, k) float32. Ties broken by lower id.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    # argpartition picks arbitrary ids among ties at the k-th score: redo those rows exactly
    kth = part_scores.min(axis=1)
    tied = np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k)
    for r in tied:
        exact = np.lexsort((np.arange(scores.shape[1]), -scores[r]))[:k]
        part[r], part_scores[r] = exact, scores[r, exact]
    order = np.lexsort((part, -part_scores), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    return ids.astype(np.int64), np.take_along_axis(part_scores, order, axis=1)


def recommend(
    model: Recommender,
    users: np.ndarray,
    histories: list[np.ndarray],
    n: int = 10,
    exclude_history: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` internal item ids and scores per user, ``(B, n)`` each."""
    scores = model.score(users, histories)
    if exclude_history:
        mask_histories(scores, histories)
    else:
        scores[:, 0] = -np.inf
    return top_k(scores, n)


def text_neighbours(
    vectors: np.ndarray,
    rows: np.ndarray,
    k: int = TEXT_K,
    chunk: int = 2048,
    index: AnnIndex | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours among ``vectors`` ``(N + 1, D)`` of each index in ``rows``
    (self and padding excluded): ``(len(rows), k)`` ids and sims, 0-padded in small catalogs.
    With ``index`` (labels = row indices), the candidates are its answers, scored exactly."""
    ids = np.zeros((len(rows), k), np.int64)
    sims = np.zeros((len(rows), k), np.float32)
    width = min(k, len(vectors) - 2)
    if width < 1:
        return ids, sims
    if index is not None:
        return _indexed_neighbours(vectors, np.asarray(rows, np.int64), index, ids, sims, width)
    for s in range(0, len(rows), chunk):
        r = rows[s : s + chunk]
        sc = vectors[r] @ vectors.T  # (B, N + 1)
        sc[:, 0] = -np.inf
        sc[np.arange(len(r)), r] = -np.inf
        top = np.argpartition(-sc, width - 1, axis=1)[:, :width]
        val = np.take_along_axis(sc, top, 1)
        order = np.argsort(-val, axis=1, kind="stable")
        ids[s : s + chunk, :width] = np.take_along_axis(top, order, 1)
        sims[s : s + chunk, :width] = np.take_along_axis(val, order, 1)
    return ids, sims


def _indexed_neighbours(
    vectors: np.ndarray,
    rows: np.ndarray,
    index: AnnIndex,
    ids: np.ndarray,
    sims: np.ndarray,
    width: int,
    chunk: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`text_neighbours` over the index's answers (``width + 2``: self may be one, and
    an item changed since it was indexed may appear twice), ordered by their exact sims."""
    n = len(vectors)
    for s in range(0, len(rows), chunk):
        r = rows[s : s + chunk]
        found, _ = index.search(vectors[r], width + 2)
        bad = (found <= 0) | (found >= n) | (found == r[:, None])
        found = np.where(bad, 0, found)
        # an item indexed twice (changed text): keep its first answer only
        srt = np.sort(found, axis=1)
        dup = np.zeros_like(bad)
        np.put_along_axis(
            dup, np.argsort(found, axis=1), np.c_[srt[:, :1] < 0, srt[:, 1:] == srt[:, :-1]], 1
        )
        bad |= dup
        sc = np.einsum("bd,bkd->bk", vectors[r], vectors[found])
        sc = np.where(bad, -np.inf, sc).astype(np.float32)
        order = np.argsort(-sc, axis=1, kind="stable")[:, :width]
        top, val = np.take_along_axis(found, order, 1), np.take_along_axis(sc, order, 1)
        ok = np.isfinite(val)
        ids[s : s + chunk, :width] = np.where(ok, top, 0)
        sims[s : s + chunk, :width] = np.where(ok, val, 0.0)
    return ids, sims


def add_text_lift(
    scores: np.ndarray, latest: np.ndarray, ids: np.ndarray, sims: np.ndarray, beta: float
) -> np.ndarray:
    """``scores[b, ids[latest[b]]] += beta * sims[latest[b]]`` in place, returns ``scores``.

    The lift of items whose text is close to each shopper's latest item (``ids``/``sims`` from
    :func:`text_neighbours`; row 0, padding, has zero sims). Sparse over the neighbour table, so
    offline scoring and serving add exactly the same term."""
    if beta:
        latest = np.asarray(latest, np.int64)
        rows = np.repeat(np.arange(len(latest)), ids.shape[1])
        # ids repeat within a row only as 0-padding with zero sims: plain indexing is exact
        scores[rows, ids[latest].ravel()] += np.float32(beta) * sims[latest].ravel()
    return scores
