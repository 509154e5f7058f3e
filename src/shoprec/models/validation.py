"""Validation of a recommender by its own scores: full ranking with histories masked. The torch
models build their early-stopping callback from :func:`validation_ndcg10`; the offline
evaluation scores through :func:`score_batch` too."""

from __future__ import annotations

import numpy as np

from shoprec.models.base import Recommender
from shoprec.models.rank_metrics import ndcg, target_ranks
from shoprec.models.scoring import mask_histories


def score_batch(
    model: Recommender,
    users: np.ndarray,
    histories: list[np.ndarray],
    timestamps: list[np.ndarray] | None,
) -> np.ndarray:
    """``model.score`` as float32, passing ``timestamps`` to models that read time."""
    if timestamps is not None and getattr(model, "uses_time", False):
        scores = model.score(users, histories, timestamps=timestamps)  # type: ignore[call-arg]
    else:
        scores = model.score(users, histories)
    return scores.astype(np.float32, copy=False)


def validation_ndcg10(
    model: Recommender,
    histories: list[np.ndarray],
    targets: np.ndarray,
    timestamps: list[np.ndarray] | None = None,
    batch_size: int = 2048,
) -> float:
    """NDCG@10 of ``targets`` under full ranking with histories masked: the early-stopping
    score of the torch models. User ``u`` (1-based) is ``histories[u - 1]``."""
    users = np.arange(1, len(histories) + 1)
    ranks = []
    for s in range(0, len(users), batch_size):
        sl = slice(s, s + batch_size)
        times = None if timestamps is None else timestamps[sl]
        scores = score_batch(model, users[sl], histories[sl], times)
        mask_histories(scores, histories[sl])
        ranks.append(target_ranks(scores, targets[sl]))
    return ndcg(np.concatenate(ranks), 10)
