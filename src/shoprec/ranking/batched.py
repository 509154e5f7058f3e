"""Work many shoppers' requests share, done once for a batch's chunk (``POST
/v1/recommendations/batch``): the sequence model's user vectors, catalog-wide scores and their
head, the reasons' leave-one-out vectors, and co-visitation over each shopper's recent items.

Every number is the one the shopper's own request would compute: each history is its own
stack in the encoder's products, the head is the same set of values, and co-visitation's sums
add the same terms in the same order. :func:`~shoprec.ranking.candidates.signals` and the
reasons' attribution use what is filled in only for the bundle it was computed with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.candidates import COVIS_RECENT, Request


def prepare_requests(
    bundle: ModelBundle, reqs: Sequence[Request], cap: int | None, head_k: int
) -> None:
    """Fill each request's ``seq_row``, ``seq_head`` (its ``head_k`` best values, ascending),
    ``loo`` (leave-one-out vectors of the last ``cap`` positions; none when ``cap`` is None),
    ``covis`` and ``prepared_for`` (``bundle``), all requests at once."""
    if not reqs:
        return
    n = bundle.n_rows
    hists, times = [], []
    for r in reqs:  # the history the sources read (candidates.signals) and its times
        h = r.history[r.history < n]
        hists.append(h)
        times.append(r.times[-len(h) :] if r.times is not None and len(h) else None)
    enc = bundle.encoder
    if enc is not None:
        some = [k for k, h in enumerate(hists) if len(h)]  # the others have no sequence score
        users = enc.encode_many([hists[k] for k in some], [times[k] for k in some])
        rows = enc.scores_many(users, np.array([hists[k][-1] for k in some], np.int64))[:, :n]
        heads = _heads(rows, head_k)
        for j, k in enumerate(some):
            reqs[k].seq_row, reqs[k].seq_head = rows[j], heads[j]
        loo = enc.leave_one_out(hists, times, cap) if cap else [None] * len(reqs)
        for k, r in enumerate(reqs):
            r.loo = loo[k]
    recents = [h[::-1][:COVIS_RECENT] for h in hists]
    for r, cv in zip(reqs, covis_many(bundle, recents), strict=True):
        r.covis = cv
        r.prepared_for = bundle


def _heads(rows: np.ndarray, k: int) -> np.ndarray:
    """``(B, k)`` each row's ``k`` largest values ascending (what ``_head_values`` gives)."""
    n = rows.shape[1]
    k = min(k, n)
    if not len(rows) or not k:
        return np.zeros((len(rows), k), rows.dtype)
    top = np.partition(rows, n - k, axis=1)[:, n - k :]
    top.sort(axis=1)
    return top


def covis_many(
    bundle: ModelBundle, recents: Sequence[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """:func:`~shoprec.ranking.candidates._covis` of each of ``recents`` (latest first; None
    for an empty one), in one pass: the items are keyed by shopper, so each shopper's sums
    add its own terms in the order its own pass adds them."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(recents)
    some = [b for b, r in enumerate(recents) if len(r)]
    if not some:
        return out
    lens = np.array([len(recents[b]) for b in some])
    rec = np.concatenate([recents[b] for b in some]).astype(np.int64)  # (S,) all rows
    K = bundle.covis_ids.shape[1]
    nb = bundle.covis_ids[rec]  # (S, K)
    local = np.concatenate([np.arange(m) for m in lens])
    sims = bundle.covis_sims[rec] * (0.5**local)[:, None]
    keep = nb.ravel() > 0
    flat, fsim = nb.ravel()[keep].astype(np.int64), sims.ravel()[keep]
    grow = np.repeat(np.arange(len(rec)), K)[keep]  # the row each term came from
    who = np.repeat(np.repeat(np.arange(len(some)), lens), K)[keep]
    width = int(bundle.covis_ids.max(initial=0)) + 1
    ukey, inv = np.unique(who * width + flat, return_inverse=True)
    score = np.bincount(inv, fsim, minlength=len(ukey))
    o = np.lexsort((grow, -fsim, inv))
    first = o[np.r_[True, inv[o][1:] != inv[o][:-1]]] if len(o) else o
    anchor = np.where(fsim[first] > 0, rec[grow[first]], 0)
    owner = ukey // width
    cuts = np.searchsorted(owner, np.arange(len(some) + 1))
    dtype = bundle.covis_ids.dtype
    for j, b in enumerate(some):
        a, z = cuts[j], cuts[j + 1]
        touched = (ukey[a:z] - j * width).astype(dtype)
        out[b] = (touched, score[a:z], anchor[a:z])
    return out
