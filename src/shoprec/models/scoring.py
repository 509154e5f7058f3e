"""Shared numpy scoring: masking and top-k, the same for every model."""

from __future__ import annotations

import numpy as np

from shoprec.models.base import Recommender


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
