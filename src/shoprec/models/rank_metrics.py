"""Ranking metrics of one target per user: its 0-based rank, HR@k and NDCG@k. Pure numpy; the
torch models early-stop on them and the evaluation reports them."""

from __future__ import annotations

import numpy as np


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """HR@k (= Recall@k with one target): share of 0-based target ``ranks`` below ``k``."""
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@k with one relevant item: ``1 / log2(rank + 2)`` when ``rank < k``, else 0."""
    if not len(ranks):
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks.astype(np.float64) + 2.0), 0.0)
    return float(np.mean(gains))


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each target in its row: the number of items ranked before it.

    Items scored strictly higher come first; among equal scores the lower id comes first, the
    same order as :func:`shoprec.models.scoring.top_k`, so ``rank < k`` exactly when the target
    is in the top-k list (a constant-score model gets no credit for ties). NaN scores count as
    ``-inf``; a ``-inf`` target ranks after every finite score.

    Parameters
    ----------
    scores : (B, I) float; targets : (B,) int column indices.

    Returns
    -------
    (B,) int64 ranks.
    """
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    targets = np.asarray(targets, dtype=np.int64)
    t = scores[np.arange(len(targets)), targets][:, None]
    ties_before = (scores == t) & (np.arange(scores.shape[1])[None, :] < targets[:, None])
    return ((scores > t).sum(axis=1) + ties_before.sum(axis=1)).astype(np.int64)
