"""Full-ranking evaluation with history masking (docs/benchmarks.md, offline protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shoprec.models import rank_metrics as R
from shoprec.models.base import Recommender
from shoprec.models.scoring import mask_histories, top_k
from shoprec.models.validation import score_batch

KS = (5, 10, 20)


@dataclass
class PhaseResult:
    """Per-user outcomes of one phase (valid or test), from which every figure is computed."""

    ranks: np.ndarray  # (U,) 0-based rank of the target among all unmasked items
    top10: np.ndarray  # (U, 10) internal ids
    pos_scores: np.ndarray  # (U,) click view: percentile of the true item
    neg_scores: np.ndarray  # (U,) click view: percentile of a random untouched item
    extra: dict[str, float] = field(default_factory=dict)


def rank_phase(
    model: Recommender,
    users: np.ndarray,
    histories: list[np.ndarray],
    targets: np.ndarray,
    negatives: np.ndarray,
    batch_size: int = 1024,
    progress: object | None = None,
    timestamps: list[np.ndarray] | None = None,
) -> PhaseResult:
    """Score every user against the full catalog, mask their history, rank the target.

    ``negatives`` (U,) are items the user never touched, for the click-prediction view; both
    items are scored by their percentile in the user's masked ranking (scores of different
    users are not on one scale, percentiles are). ``timestamps`` of the histories are passed to
    models that read time (``model.uses_time``).
    """
    ranks: list[np.ndarray] = []
    tops: list[np.ndarray] = []
    pos: list[np.ndarray] = []
    neg: list[np.ndarray] = []
    for start in range(0, len(users), batch_size):
        sl = slice(start, start + batch_size)
        hist = histories[sl]
        times = None if timestamps is None else timestamps[sl]
        scores = score_batch(model, users[sl], hist, times)
        mask_histories(scores, hist)
        ranks.append(R.target_ranks(scores, targets[sl]))
        tops.append(top_k(scores, 10)[0])
        n_valid = np.isfinite(scores).sum(axis=1)
        for tgt, out in ((targets[sl], pos), (negatives[sl], neg)):
            r = R.target_ranks(scores, tgt)
            out.append(1.0 - r / np.maximum(n_valid, 1))
        if progress is not None:
            progress(min(start + batch_size, len(users)))  # type: ignore[operator]
    return PhaseResult(
        ranks=np.concatenate(ranks),
        top10=np.concatenate(tops),
        pos_scores=np.concatenate(pos),
        neg_scores=np.concatenate(neg),
    )


def ranking_metrics(ranks: np.ndarray) -> dict[str, float]:
    """HR and NDCG at 5, 10, 20."""
    out: dict[str, float] = {}
    for k in KS:
        out[f"HR@{k}"] = R.hit_rate(ranks, k)
        out[f"NDCG@{k}"] = R.ndcg(ranks, k)
    return out


def sample_negatives(
    histories: list[np.ndarray], targets: np.ndarray, n_items: int, seed: int
) -> np.ndarray:
    """One item per user drawn uniformly from those the user never touched (nor the target)."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(histories), dtype=np.int64)
    for u, (h, t) in enumerate(zip(histories, targets, strict=True)):
        seen = set(h.tolist())
        seen.add(int(t))
        while True:
            c = int(rng.integers(1, n_items + 1))
            if c not in seen:
                out[u] = c
                break
    return out
