"""Candidate generation and candidate features: the sequence model's top N, co-visitation
neighbours of the recent items, text-similar items, trending and new arrivals, with one row of
:data:`~shoprec.models.ranker.FEATURES` per candidate and what each source saw in it (the
explanations cite those anchors)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from shoprec.models.ranker import FEATURES
from shoprec.ranking import indexes as ann
from shoprec.ranking.bundle import ModelBundle, neighbours
from shoprec.ranking.catalog import LabelIndex
from shoprec.ranking.strategy import Strategy

F = {name: j for j, name in enumerate(FEATURES)}
#: Recent items read by co-visitation (latest weighs 1, each older one half as much).
COVIS_RECENT = 5
TEXT_RECENT = 3
SEQ_RANK_CAP = 1000.0


@dataclass
class Request:
    """One shopper's signals for a request, in catalog indices.

    ``history`` ``(L,)`` oldest first (the last :data:`HISTORY`), ``times`` their timestamps
    (or None), ``interests`` tag label -> normalised weight, ``now`` the engine clock.
    """

    history: np.ndarray
    times: np.ndarray | None
    interests: dict[str, float]
    now: float
    #: what a batch computed for many shoppers at once (:mod:`~shoprec.ranking.batched`),
    #: used only with the bundle it was computed for (``prepared_for``): the sequence model's
    #: scores ``(N + 1,)``, their head, the leave-one-out user vectors ``(R, C)`` of the
    #: history, and co-visitation's ``(touched, score, anchor)`` (:func:`_covis`)
    seq_row: np.ndarray | None = None
    seq_head: np.ndarray | None = None
    loo: np.ndarray | None = None
    covis: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    prepared_for: object | None = None


@dataclass
class Candidates:
    """``ids`` ``(C,)`` catalog indices; ``x`` ``(C, F)`` features; ``covis_anchor`` and
    ``text_anchor`` ``(C,)`` the recent item that brought each candidate (0 = none);
    ``affinity_label`` ``(C,)`` the id of the interest tag that matched best (-1 = none; see
    :meth:`LabelIndex.name`); ``session`` the latest item's neighbours (``neighbours``)."""

    ids: np.ndarray
    x: np.ndarray
    covis_anchor: np.ndarray
    text_anchor: np.ndarray
    affinity_label: np.ndarray
    seq_scores: np.ndarray | None  # (N + 1,) the full sequence-model row (None: no model)
    session: list[tuple[int, float, str]] = field(default_factory=list)


#: Entries read to guess the top-k threshold of a long score vector (see :func:`_top`).
SAMPLE = 1024


def _bracket(scores: np.ndarray, k: int) -> float | None:
    """A value below the ``k`` largest ``scores`` that about ``2k`` entries reach, guessed
    from an evenly strided sample (None when the vector is too short for the guess to pay).
    The guess can be too high (a sample unlike the whole): callers check they kept ``k``."""
    n = len(scores)
    if n < 4 * SAMPLE or k >= n // 8:
        return None
    sample = scores[:: n // SAMPLE]
    keep = min(len(sample) - 1, int(2 * k * len(sample) / n) + 16)  # about 2k survive
    return float(np.partition(sample, len(sample) - 1 - keep)[len(sample) - 1 - keep])


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``scores``, best first (exact).

    On a long vector a full partition costs more than everything else a request does with
    it, so only the entries above :func:`_bracket`'s threshold are partitioned; when they are
    fewer than ``k``, the full partition runs instead.
    """
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, np.int64)
    top: np.ndarray | None = None
    threshold = _bracket(scores, k)
    if threshold is not None:
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


def _head_values(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` largest ``scores``, ascending (exact; only entries above :func:`_bracket`'s
    threshold are sorted when they are enough)."""
    n = len(scores)
    k = min(k, n)
    threshold = _bracket(scores, k)
    if threshold is not None:
        above = scores[scores >= threshold]
        if len(above) >= k:
            return np.sort(above)[len(above) - k :]
    return np.sort(scores)[n - k :]


def _covis(bundle: ModelBundle, recent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Co-visitation over the ``recent`` items (latest first, weights 1, 1/2, 1/4, ...):
    ``(touched, score, anchor)``, the items any of them names (sorted), their summed
    weighted similarity, and the recent item that contributes most to each (the latest on
    ties; 0 when none contributes). Only touched items can score: no pass over the catalog."""
    nb = bundle.covis_ids[recent]  # (R, K)
    sims = bundle.covis_sims[recent] * (0.5 ** np.arange(len(recent)))[:, None]
    keep = nb.ravel() > 0
    flat, fsim = nb.ravel()[keep], sims.ravel()[keep]
    row = np.repeat(np.arange(len(recent)), nb.shape[1])[keep]
    touched, inv = np.unique(flat, return_inverse=True)
    score = np.bincount(inv, fsim, minlength=len(touched))
    # per touched item its largest single contribution, the most recent row on ties
    o = np.lexsort((row, -fsim, inv))
    first = o[np.r_[True, inv[o][1:] != inv[o][:-1]]] if len(o) else o
    anchor = np.where(fsim[first] > 0, recent[row[first]], 0)
    return touched, score, anchor


def generate(
    bundle: ModelBundle,
    labels: LabelIndex,
    vectors: np.ndarray,
    added_at: np.ndarray,
    trending: np.ndarray,
    req: Request,
    strategy: Strategy,
    trending_top: np.ndarray | None = None,
    usable: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Candidates:
    """Union of every source's candidates with their features.

    ``labels`` the catalog's :class:`~shoprec.ranking.catalog.LabelIndex` (a ``(N + 1, L)``
    matrix of tag label ids), ``vectors`` ``(N + 1, 384)`` text vectors, ``added_at``
    ``(N + 1,)``, ``trending`` ``(N + 1,)`` decayed scores; all aligned to
    ``bundle.n_rows``. ``trending_top``: the trending items best first when the caller has
    them cached (they change only with events), else computed here. ``usable``: indices ->
    mask of those the request's filters admit, so that the latest item's neighbours (the
    session source) are the nearest the list may show.
    """
    sig = signals(bundle, req, strategy)
    hist, seq, head = sig.hist, sig.seq, sig.head
    pools: list[np.ndarray] = []
    if seq is not None and head is not None and strategy.n_seq:
        top = np.flatnonzero(seq >= head[max(0, len(head) - strategy.n_seq)])
        pools.append(top if len(top) <= strategy.n_seq else top[_top(seq[top], strategy.n_seq)])
    if len(sig.recent):
        pools.append(_top_sparse(sig.touched, sig.covis_score, strategy.n_covis))
        tn = bundle.text_ids[hist[::-1][:TEXT_RECENT], : strategy.n_text].ravel()
        pools.append(tn[tn > 0])
    session = session_neighbours(bundle, sig, strategy.n_session, usable)
    if session:
        pools.append(np.array([j for j, _, _ in session], np.int64))
    if hist[-1:].tolist() != req.history[-1:].tolist():
        session = []  # the re-rank boosts only the very last item's neighbours
    n = bundle.n_rows
    if trending_top is None:
        trending_top = _top(trending[:n], strategy.n_trending)
    pools.append(trending_top[trending_top < n][: strategy.n_trending])
    if strategy.n_new:
        fresh = np.flatnonzero(added_at[:n] >= req.now - strategy.new_window_s)
        fresh = fresh[fresh > 0]
        pools.append(fresh[np.argsort(-added_at[fresh], kind="stable")][: strategy.n_new])
    ids = np.unique(np.concatenate(pools)) if pools else np.zeros(0, np.int64)
    return describe(bundle, labels, vectors, added_at, trending, req, strategy, sig, ids, session)


@dataclass
class Signals:
    """What one request's sources read, computed once: ``hist`` the history the bundle
    knows, ``seq`` ``(N + 1,)`` the sequence model's row and ``head`` its
    :data:`SEQ_RANK_CAP` best values ascending (None without a model or history),
    ``recent`` the items co-visitation reads (latest first), and its ``touched`` items (sorted),
    their ``covis_score`` and ``covis_best`` anchors (see :func:`_covis`)."""

    hist: np.ndarray
    seq: np.ndarray | None
    head: np.ndarray | None
    recent: np.ndarray
    touched: np.ndarray
    covis_score: np.ndarray
    covis_best: np.ndarray
    #: through the bundle's sequence index: the user vector, and ``seq`` holds exact scores
    #: only for the rows the index returned (``-inf`` elsewhere, filled on demand by
    #: :func:`describe`)
    user: np.ndarray | None = None


def head_size(strategy: Strategy) -> int:
    """How many of the sequence model's best scores a request's :func:`signals` keep."""
    return int(max(SEQ_RANK_CAP, strategy.n_seq))


def signals(bundle: ModelBundle, req: Request, strategy: Strategy) -> Signals:
    """The sequence model's row and co-visitation over the recent items, for ``req``."""
    n = bundle.n_rows
    hist = req.history[req.history < n]
    seq = head = user = None
    if bundle.encoder is not None and len(hist):
        ready = req.prepared_for is bundle and req.seq_row is not None
        if ready:
            seq = req.seq_row[:n]  # type: ignore[index]
        elif "seq" in bundle.indexes:
            user, seq, head = _indexed_seq(bundle, hist, req, head_size(strategy))
        else:
            seq = bundle.encoder.scores(
                hist, req.times[-len(hist) :] if req.times is not None else None
            )[:n]
        # the SEQ_RANK_CAP best values give both the candidate pool and the rank feature
        k = head_size(strategy)
        ok = ready and req.seq_head is not None and len(req.seq_head) == min(k, len(seq))
        if head is None:
            head = req.seq_head if ok else _head_values(seq, k)
    recent = hist[::-1][:COVIS_RECENT]
    empty = np.zeros(0, np.int64)
    if req.prepared_for is bundle and req.covis is not None:
        touched, covis_score, covis_best = req.covis
    else:
        touched, covis_score, covis_best = _covis(bundle, recent) if len(recent) else (empty,) * 3
    return Signals(hist, seq, head, recent, touched, covis_score, covis_best, user)


def _indexed_seq(
    bundle: ModelBundle, hist: np.ndarray, req: Request, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sequence model's row through the bundle's index: ``(user, seq, head)``, ``seq``
    ``(N + 1,)`` exact on the index's candidates (:func:`~.indexes.seq_candidates`) and
    ``-inf`` elsewhere; ``head`` the best ``k`` of those, ascending. No catalog-long product."""
    enc = bundle.encoder
    assert enc is not None
    user = enc.user_vector(hist, req.times[-len(hist) :] if req.times is not None else None)
    latest = int(hist[-1])
    cand = ann.seq_candidates(enc, bundle.indexes["seq"], user, latest, k, bundle.n_rows)
    exact = enc.scores_at(user[None], np.array([latest]), cand)[0]
    seq = np.full(bundle.n_rows, -np.inf, np.float32)
    seq[cand] = exact
    return user, seq, _head_values(exact, k)


def session_neighbours(
    bundle: ModelBundle,
    sig: Signals,
    k: int,
    usable: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[tuple[int, float, str]]:
    """The ``k`` nearest neighbours of the latest known item (:func:`neighbours`) that
    ``usable`` admits: a bought or filtered neighbour gives way to the next (else a shopper
    who bought them all would see no neighbour rise)."""
    if not len(sig.hist) or not k:
        return []
    near = neighbours(bundle, int(sig.hist[-1]), k * (1 if usable is None else 3))
    if usable is not None and near:
        ok = usable(np.fromiter((j for j, _, _ in near), np.int64, len(near)))
        near = [nb for nb, good in zip(near, ok.tolist(), strict=True) if good]
    return near[:k]


def describe(
    bundle: ModelBundle,
    labels: LabelIndex,
    vectors: np.ndarray,
    added_at: np.ndarray,
    trending: np.ndarray,
    req: Request,
    strategy: Strategy,
    sig: Signals,
    ids: np.ndarray,
    session: list[tuple[int, float, str]],
) -> Candidates:
    """The candidates ``ids`` (unique catalog indices below ``bundle.n_rows``; 0 is dropped)
    with their features, as :func:`generate` describes its own; a caller's list gets the
    same features its items would have in the feed."""
    ids = ids[ids > 0]
    hist, seq, head, recent = sig.hist, sig.seq, sig.head, sig.recent
    touched, covis_score, covis_best = sig.touched, sig.covis_score, sig.covis_best
    x = np.zeros((len(ids), len(FEATURES)))
    if seq is not None and head is not None:
        if sig.user is not None and bundle.encoder is not None:
            # candidates the sequence index did not return: their exact scores, once
            todo = ids[np.isneginf(seq[ids])]
            if len(todo):
                latest = np.array([int(hist[-1])])
                seq[todo] = bundle.encoder.scores_at(sig.user[None], latest, todo)[0]
        s = seq[ids]
        x[:, F["seq"]] = s
        # rank = how many of the head beat it (SEQ_RANK_CAP when outside the head)
        rank = len(head) - np.searchsorted(head, s, side="right")
        x[:, F["seq_logrank"]] = np.log1p(np.where(s >= head[0], rank, SEQ_RANK_CAP))
    else:
        x[:, F["seq_logrank"]] = np.log1p(SEQ_RANK_CAP)
    covis_anchor = np.zeros(len(ids), np.int64)
    text_anchor = np.zeros(len(ids), np.int64)
    if len(touched):
        at = np.minimum(np.searchsorted(touched, ids), len(touched) - 1)
        hit = touched[at] == ids
        x[:, F["covis"]] = np.where(hit, covis_score[at], 0.0)
        covis_anchor = np.where(hit, covis_best[at], 0)
    if len(recent):
        last = hist[::-1][:TEXT_RECENT]
        tsims = vectors[ids] @ vectors[last].T  # (C, T)
        best = tsims.argmax(axis=1)
        x[:, F["text"]] = tsims[np.arange(len(ids)), best]
        text_anchor = last[best]
    x[:, F["trending"]] = np.log1p(np.maximum(trending[ids], 0.0))
    x[:, F["popularity"]] = np.log1p(bundle.popularity[ids])
    x[:, F["is_new"]] = added_at[ids] >= req.now - strategy.new_window_s
    aff_label = np.full(len(ids), -1, np.int64)
    if req.interests:
        x[:, F["affinity"]], aff_label = labels.affinity(ids, req.interests)
    return Candidates(ids, x, covis_anchor, text_anchor, aff_label, seq, session)
