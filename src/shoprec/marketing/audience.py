"""Audiences: the shoppers most likely to buy from a category (or a set of products) next.

A shopper's score is the sequence model's probability that their next item falls in the target
set: ``logsumexp(scores[target]) - logsumexp(scores[all])`` over their softmax, from the same
user vectors the home feed uses. Shoppers who already bought every target item are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from shoprec.models.sasrec_infer import SASRecEncoder


@dataclass
class Member:
    user_id: str
    score: float  # probability that the next item is in the target set


def audience(
    encoder: SASRecEncoder,
    shoppers: Iterable[tuple[str, np.ndarray, np.ndarray | None, set[int]]],
    target: np.ndarray,
    n: int,
    batch: int = 2048,
) -> list[Member]:
    """Top ``n`` shoppers by next-item probability in ``target`` (catalog indices).

    ``shoppers`` yields ``(user_id, history indices, timestamps or None, bought indices)``.
    """
    target = np.unique(np.asarray(target, np.int64))
    if not len(target):
        return []
    items = encoder.items  # (N + 1, C)
    ids: list[str] = []
    vecs: list[np.ndarray] = []
    masks: list[bool] = []
    for user_id, hist, times, bought in shoppers:
        if not len(hist):
            continue
        ids.append(user_id)
        vecs.append(encoder.user_vector(hist, times))
        masks.append(all(int(t) in bought for t in target))
    if not ids:
        return []
    scores = np.empty(len(ids))
    t = np.float32(encoder.temperature)
    for s in range(0, len(ids), batch):
        logits = np.stack(vecs[s : s + batch]) @ items[1:].T / t  # (B, N)
        scores[s : s + batch] = logsumexp(logits[:, target - 1], axis=1) - logsumexp(logits, axis=1)
    prob = np.exp(scores)
    prob[np.asarray(masks)] = -1.0
    order = np.argsort(-prob, kind="stable")[:n]
    return [Member(ids[k], float(prob[k])) for k in order if prob[k] >= 0]


def precision(members: Sequence[Member], truth: dict[str, int], target: set[int]) -> float:
    """Share of the audience whose held-out next item is in ``target``."""
    if not members:
        return 0.0
    return sum(truth.get(m.user_id, 0) in target for m in members) / len(members)
