"""Candidate generation and candidate features: the sequence model's top N, co-visitation
neighbours of the recent items, text-similar items, trending and new arrivals, with one row of
:data:`~shoprec.models.ranker.FEATURES` per candidate and what each source saw in it (the
explanations cite those anchors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoprec.models.ranker import FEATURES
from shoprec.serving.catalog import LabelIndex
from shoprec.serving.models import ModelBundle, neighbours
from shoprec.serving.strategy import Strategy

F = {name: j for j, name in enumerate(FEATURES)}
#: Recent items read by co-visitation (latest weighs 1, each older one half as much).
COVIS_RECENT = 5
TEXT_RECENT = 3
SEQ_RANK_CAP = 1000.0


@dataclass
class Request:
    """One shopper's signals for a request, in catalog indices.

    ``history`` ``(L,)`` oldest first (last 50), ``times`` their timestamps (or None),
    ``interests`` tag label -> normalised weight, ``now`` the engine clock.
    """

    history: np.ndarray
    times: np.ndarray | None
    interests: dict[str, float]
    now: float


@dataclass
class Candidates:
    """``ids`` ``(C,)`` catalog indices; ``x`` ``(C, F)`` features; ``covis_anchor`` and
    ``text_anchor`` ``(C,)`` the recent item that brought each candidate (0 = none);
    ``affinity_label`` the interest tag that matched best (or "")."""

    ids: np.ndarray
    x: np.ndarray
    covis_anchor: np.ndarray
    text_anchor: np.ndarray
    affinity_label: list[str]
    seq_scores: np.ndarray | None  # (N + 1,) the full sequence-model row (None: no model)


#: Entries read to guess the top-k threshold of a long score vector (see :func:`_top`).
SAMPLE = 1024


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``scores``, best first (exact).

    On a long vector a full partition costs more than everything else a request does with
    it, so the k-th largest is first bracketed from an evenly strided sample: entries above
    that threshold are partitioned alone. When the guess keeps fewer than ``k`` (a sample
    unlike the whole), the full partition runs instead.
    """
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, np.int64)
    top: np.ndarray | None = None
    if n >= 4 * SAMPLE and k < n // 8:
        sample = scores[:: n // SAMPLE]
        keep = min(len(sample) - 1, int(2 * k * len(sample) / n) + 16)  # about 2k survive
        threshold = np.partition(sample, len(sample) - 1 - keep)[len(sample) - 1 - keep]
        above = np.flatnonzero(scores >= threshold)
        if len(above) >= k:
            top = above[np.argpartition(scores[above], len(above) - k)[len(above) - k :]]
    if top is None:
        top = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
    return top[np.argsort(-scores[top], kind="stable")]


def _top_sparse(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Top ``k`` of the entries ``ids`` (unique) with ``scores`` > 0, best first."""
    keep = scores > 0
    ids, scores = ids[keep], scores[keep]
    return ids[_top(scores, k)]


def generate(
    bundle: ModelBundle,
    labels: LabelIndex,
    vectors: np.ndarray,
    added_at: np.ndarray,
    trending: np.ndarray,
    req: Request,
    strategy: Strategy,
    trending_top: np.ndarray | None = None,
) -> Candidates:
    """Union of every source's candidates with their features.

    ``labels`` the catalog's :class:`~shoprec.serving.catalog.LabelIndex` (a ``(N + 1, L)``
    matrix of tag label ids), ``vectors`` ``(N + 1, 384)`` text vectors, ``added_at``
    ``(N + 1,)``, ``trending`` ``(N + 1,)`` decayed scores; all aligned to
    ``bundle.n_rows``. ``trending_top``: the trending items best first when the caller has
    them cached (they change only with events), else computed here.
    """
    n = bundle.n_rows
    hist = req.history[req.history < n]
    pools: list[np.ndarray] = []
    seq = None
    if bundle.encoder is not None and len(hist):
        seq = bundle.encoder.scores(
            hist, req.times[-len(hist) :] if req.times is not None else None
        )
        seq = seq[:n]
        # one partial sort serves both the candidate pool and the rank feature
        head = _top(seq, int(max(SEQ_RANK_CAP, strategy.n_seq)))
        pools.append(head[: strategy.n_seq])
    # co-visitation: neighbours of the latest items, recency-weighted
    recent = hist[::-1][:COVIS_RECENT]
    w = 0.5 ** np.arange(len(recent))
    covis_sum: np.ndarray
    if len(recent):
        nb, sims = bundle.covis_ids[recent], bundle.covis_sims[recent] * w[:, None]  # (R, K)
        flat, fsim = nb.ravel(), sims.ravel()
        keep = flat > 0
        covis_sum = np.bincount(flat[keep], fsim[keep], minlength=n)
        touched = np.unique(flat[keep])  # only these can score: no pass over the catalog
        pools.append(_top_sparse(touched, covis_sum[touched], strategy.n_covis))
        tn = bundle.text_ids[hist[::-1][:TEXT_RECENT], : strategy.n_text].ravel()
        pools.append(tn[tn > 0])
    else:
        covis_sum = np.zeros(n, np.float64)
    if len(hist) and strategy.n_session:
        near = neighbours(bundle, int(hist[-1]), strategy.n_session)
        pools.append(np.array([j for j, _, _ in near], np.int64))
    if trending_top is None:
        trending_top = _top(trending[:n], strategy.n_trending)
    pools.append(trending_top[trending_top < n][: strategy.n_trending])
    if strategy.n_new:
        fresh = np.flatnonzero(added_at[:n] >= req.now - strategy.new_window_s)
        fresh = fresh[fresh > 0]
        pools.append(fresh[np.argsort(-added_at[fresh], kind="stable")][: strategy.n_new])
    ids = np.unique(np.concatenate(pools)) if pools else np.zeros(0, np.int64)
    ids = ids[ids > 0]
    x = np.zeros((len(ids), len(FEATURES)))
    if seq is not None:
        x[:, F["seq"]] = seq[ids]
        rank = np.full(n, SEQ_RANK_CAP)
        capped = head[: int(SEQ_RANK_CAP)]
        rank[capped] = np.arange(len(capped))
        x[:, F["seq_logrank"]] = np.log1p(rank[ids])
    else:
        x[:, F["seq_logrank"]] = np.log1p(SEQ_RANK_CAP)
    x[:, F["covis"]] = covis_sum[ids]
    covis_anchor = np.zeros(len(ids), np.int64)
    text_anchor = np.zeros(len(ids), np.int64)
    if len(recent):
        # the recent item that contributes most to each candidate's co-visitation score
        best = np.zeros((len(recent), len(ids)))  # (R, C); ids are sorted (np.unique)
        for r in range(len(recent)):
            row, ok = nb[r], nb[r] > 0
            at = np.minimum(np.searchsorted(ids, row), len(ids) - 1)
            hit = ok & (ids[at] == row)
            np.add.at(best[r], at[hit], sims[r][hit])
        covis_anchor = np.where(best.max(axis=0) > 0, recent[best.argmax(axis=0)], 0)
        last = hist[::-1][:TEXT_RECENT]
        tsims = vectors[ids] @ vectors[last].T  # (C, T)
        x[:, F["text"]] = tsims.max(axis=1)
        text_anchor = last[tsims.argmax(axis=1)]
    x[:, F["trending"]] = np.log1p(np.maximum(trending[ids], 0.0))
    x[:, F["popularity"]] = np.log1p(bundle.popularity[ids])
    x[:, F["is_new"]] = (added_at[ids] >= req.now - strategy.new_window_s).astype(np.float64)
    aff_label = [""] * len(ids)
    if req.interests:
        x[:, F["affinity"]], aff_label = labels.affinity(ids, req.interests)
    return Candidates(ids, x, covis_anchor, text_anchor, aff_label, seq)
