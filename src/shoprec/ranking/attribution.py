"""Which item of a shopper's history explains a recommendation: leave-one-out.

For each shown item, each history item is removed in turn and the score recomputed; the item
whose removal lowers the score most is the one a reason names. The sequence model's variants
run as one batched encoder pass (:meth:`SASRecEncoder.leave_one_out`, also across a batch's
shoppers: :func:`~shoprec.ranking.batched.prepare_requests`); co-visitation's are a
handful of table look-ups. Only the few shown items are scored, never the catalog.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from shoprec.models.sasrec_infer import SASRecEncoder
from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.candidates import COVIS_RECENT, Request

#: Most recent history items the sequence attribution tries removing: one encoder row each,
#: and the columns before the oldest of them are shared by every row (computed once), so
#: the cost grows with the square of this cap; older items are never named.
MAX_ATTRIBUTED = 20


def seq_drops(
    encoder: SASRecEncoder,
    hist: np.ndarray,
    times: np.ndarray | None,
    items: np.ndarray,
    cap: int = MAX_ATTRIBUTED,
    full: np.ndarray | None = None,
    users: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(positions (R,), drops (R, J))``: for each of the last ``cap`` positions of ``hist``
    ``(L,)`` (catalog ids oldest first, as the encoder read them; ``times`` aligned or None),
    how much removing it lowers the sequence-model score of each of ``items`` ``(J,)``
    (``full`` ``(J,)``: their scores with the whole history, when the caller has them;
    ``users`` ``(R, C)``: the history's :meth:`SASRecEncoder.leave_one_out` vectors, when
    a batch computed them with other shoppers' -- the same numbers)."""
    hist = np.asarray(hist, np.int64)
    items = np.asarray(items, np.int64)
    L = len(hist)
    if not L or not len(items):
        return np.zeros(0, np.int64), np.zeros((0, len(items)))
    positions = np.arange(max(0, L - cap), L)
    if full is None:
        full = encoder.scores_at(encoder.user_vector(hist, times)[None], hist[-1:], items)[0]
    if users is None:
        users = encoder.leave_one_out([hist], [times], cap)[0]
    # the latest item of each variant: the last one, or the one before it once it is removed
    if L > 1:
        latest = np.where(positions == L - 1, hist[L - 2], hist[L - 1])
    else:
        latest = np.zeros(len(positions), np.int64)
    without = encoder.scores_at(users, latest, items)  # (R, J)
    return positions, full[None, :].astype(np.float64) - without


def covis_drops(
    covis_ids: np.ndarray, covis_sims: np.ndarray, hist: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(positions (R,), drops (R, J))`` for the co-visitation score of the candidate
    source (:func:`~shoprec.ranking.candidates._covis`: the ``COVIS_RECENT`` latest items
    weighted 1, 1/2, 1/4, ...): removing one of them lets the older ones move up a weight
    and the next one in, exactly as the source would then see it. Older positions change
    nothing and are not listed."""
    hist = np.asarray(hist, np.int64)
    items = np.asarray(items, np.int64)
    recent = hist[::-1][: COVIS_RECENT + 1]  # latest first, one spare to move in
    m = len(recent)
    r = min(m, COVIS_RECENT)
    if not r or not len(items):
        return np.zeros(0, np.int64), np.zeros((0, len(items)))
    nb, sims = covis_ids[recent], covis_sims[recent]  # (M, K)
    # sim[m, j]: recent item m's co-visitation with item j (0 when j is not its neighbour)
    sim = (sims[:, :, None] * (nb[:, :, None] == items[None, None, :])).sum(1)  # (M, J)
    w, weights = _covis_weights(m)
    full = (w[:r, None] * sim[:r]).sum(0)
    drops = full[None, :] - weights @ sim
    return _latest_positions(len(hist), r), drops


@lru_cache(maxsize=COVIS_RECENT + 2)
def _covis_weights(m: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights of ``m`` recent items (latest first) and ``(R, m)`` those left after
    removing each of the ``R = min(m, COVIS_RECENT)`` latest: items before it keep their
    weights, those after move up one. The same few matrices for every request (read-only)."""
    w = 0.5 ** np.arange(m)
    r = min(m, COVIS_RECENT)
    weights = np.zeros((r, m))
    for k in range(r):
        keep = np.delete(np.arange(m), k)[:COVIS_RECENT]
        weights[k, keep] = w[: len(keep)]
    w.flags.writeable = weights.flags.writeable = False
    return w, weights


def _latest_positions(length: int, r: int) -> np.ndarray:
    """History positions (oldest first) of the ``r`` latest items, latest first."""
    return length - 1 - np.arange(r)


def anchors(hist: np.ndarray, positions: np.ndarray, drops: np.ndarray) -> np.ndarray:
    """``(J,)`` the history item whose removal lowers each column's score most (0 where no
    removal lowers it: nothing in the history explains that item)."""
    if not len(positions):
        return np.zeros(drops.shape[1], np.int64)
    best = drops.argmax(axis=0)
    named = np.asarray(hist, np.int64)[positions[best]]
    return np.where(drops[best, np.arange(drops.shape[1])] > 0, named, 0)


class Anchors:
    """The history item each shown item's reasons name, computed on first use for all of
    them at once (one batched encoder pass; nothing when no reason cites the source).

    ``ids`` ``(J,)`` the shown items (catalog indices), ``covis_best`` ``(J,)`` the item that
    contributed most to each one's co-visitation score (the candidate source's anchor: the
    fallback where no single removal lowers the score). ``faithful=False`` gives the old
    answers (the latest item for the sequence model), for comparison.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        req: Request,
        ids: np.ndarray,
        covis_best: np.ndarray,
        seq_scores: np.ndarray | None = None,
        faithful: bool = True,
    ) -> None:
        # the history the candidate sources read (candidates.signals)
        self.hist = req.history[req.history < bundle.n_rows]
        has_times = req.times is not None and len(self.hist)
        self.times = req.times[-len(self.hist) :] if has_times else None  # type: ignore[index]
        self.bundle, self.ids, self.covis_best = bundle, np.asarray(ids, np.int64), covis_best
        self.req = req
        self.seq_scores, self.faithful = seq_scores, faithful
        self.latest = int(self.hist[-1]) if len(self.hist) else 0
        self._seq: np.ndarray | None = None
        self._covis: np.ndarray | None = None

    def seq(self, k: int) -> int:
        """The history item whose removal lowers the ``k``-th item's sequence score most
        (0: none lowers it; -1: the sequence model read no history, so there is no reason)."""
        enc = self.bundle.encoder
        if enc is None or not self.latest:
            return -1
        if not self.faithful:
            return self.latest
        if self._seq is None:
            full = None if self.seq_scores is None else self.seq_scores[self.ids]
            users = self.req.loo if self.req.prepared_for is self.bundle else None
            pos, drops = seq_drops(enc, self.hist, self.times, self.ids, full=full, users=users)
            self._seq = anchors(self.hist, pos, drops)
        return int(self._seq[k])

    def covis(self, k: int) -> int:
        """The history item whose removal lowers the ``k``-th item's co-visitation score most
        (the largest contributor where no removal lowers it)."""
        if not self.faithful:
            return int(self.covis_best[k])
        if self._covis is None:
            b = self.bundle
            pos, drops = covis_drops(b.covis_ids, b.covis_sims, self.hist, self.ids)
            found = anchors(self.hist, pos, drops)
            self._covis = np.where(found > 0, found, self.covis_best)
        return int(self._covis[k])
