"""Re-ranking a caller's list (``POST /v1/rank``): a category page or third-party search
results ordered for one shopper by the feed's own pipeline.

The caller's items get the features they would have as feed candidates
(:func:`~shoprec.ranking.candidates.describe`), the ranker's relevance, the feed's re-rank
(session boost and slots, sentiment demotion, novelty, MMR diversity) and reasons. No item of
the caller's is dropped: what the feed filters out (items the shopper bought, out of stock) is
moved after the ranked items, and items not in the catalog come last, in the caller's order.
Exploration is off: the list holds only the caller's items, the same answer every time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.candidates import Candidates, Request, describe, session_neighbours, signals
from shoprec.ranking.catalog import CatalogView
from shoprec.ranking.pipeline import Pipeline, Recommended
from shoprec.ranking.rerank import follow_order
from shoprec.ranking.strategy import Strategy

log = logging.getLogger(__name__)

#: Why an item was moved after the ranked ones, as its first reason.
DEMOTED = {
    "bought": "You bought this already",
    "out_of_stock": "Out of stock",
    "blocked": "Held back by the shop's rules",
}
NO_HISTORY = "new shopper: ranked by trending and popularity"
MODEL_ERROR = "model error: the caller's order"


@dataclass
class RankedList:
    """``items`` the known items, ranked, then the demoted ones (each with the score that
    orders the whole list); ``unknown`` the positions in the caller's list of the items not in
    the catalog, which follow them in that order with ``unknown_scores``; ``demoted`` why ->
    catalog indices moved down."""

    items: list[Recommended]
    unknown: list[int]
    unknown_scores: list[float]
    fallback: str | None
    demoted: dict[str, list[int]] = field(default_factory=dict)


def rank_list(
    pipeline: Pipeline,
    bundle: ModelBundle,
    trending: np.ndarray,
    req: Request,
    items: np.ndarray,
    demote: dict[str, np.ndarray],
    strategy: Strategy | None = None,
    drift: dict[int, float] | None = None,
) -> RankedList:
    """``items`` ``(K,)`` the caller's list as catalog indices, unique, 0 where an item is not
    in the catalog (all below ``bundle.n_rows``); ``demote`` why -> ``(K,)`` mask of the items
    to move after the ranked ones (an item takes the first reason that applies). The shop's
    business rules apply as in the feed's re-rank (boosts, buries, "Featured"), except that a
    blocked item is moved after the ranked ones (``"blocked"``) and pins place nothing."""
    st = replace(strategy or pipeline.strategy, exploration=0.0)
    known = items > 0
    rules = pipeline.rules.applied(pipeline.catalog, bundle.n_rows) if pipeline.rules else None
    if rules is not None and rules.blocked is not None:
        demote = {**demote, "blocked": known & rules.blocked[np.where(known, items, 0)]}
    why = np.full(len(items), "", dtype=object)
    for reason, mask in demote.items():
        why[known & mask & (why == "")] = reason
    fallback = None if len(req.history) else NO_HISTORY
    out: list[Recommended] = []
    own: list[float | None] = []
    try:
        view = pipeline.catalog.view().head(bundle.n_rows)
        ranked = why[known] == ""
        cands = _describe(pipeline, bundle, view, trending, req, items[known], st, ranked)
        for keep, down in ((ranked, None), (~ranked, why[known])):
            k = int(keep.sum())
            got, scores = pipeline._rank(
                bundle, cands, keep, k, st, view.vectors, req, drift or {}, rules
            )
            if down is not None:  # placed below the ranked ones by rule, its reason first
                at = dict(zip(cands.ids.tolist(), down.tolist(), strict=True))
                for r in got:
                    r.reasons = [DEMOTED[at[r.index]], *r.reasons][:3]
                scores = [None] * len(got)
            out += got
            own += scores
    except Exception:  # a model failure must not fail the request: the caller's order
        log.exception("ranking a caller's list failed; answering it in the caller's order")
        order = np.r_[items[known][why[known] == ""], items[known][why[known] != ""]]
        out = [Recommended(int(i), 0.0, ["In the order given"]) for i in order.tolist()]
        own, fallback = [None] * len(out), MODEL_ERROR
    n_unknown = int((~known).sum())
    final = follow_order(own + [None] * n_unknown)
    for r, s in zip(out, final, strict=False):
        r.score = s
    demoted = {reason: items[why == reason].tolist() for reason in demote if (why == reason).any()}
    unknown = np.flatnonzero(~known).tolist()
    return RankedList(out, unknown, final[len(out) :], fallback, demoted)


def _describe(
    pipeline: Pipeline,
    bundle: ModelBundle,
    view: CatalogView,
    trending: np.ndarray,
    req: Request,
    ids: np.ndarray,
    st: Strategy,
    rankable: np.ndarray,
) -> Candidates:
    """``ids``' features as feed candidates; the session boost goes to the latest item's
    nearest neighbours among the ``rankable`` ones (not demoted)."""
    sig = signals(bundle, req, st)
    pool = ids[rankable]
    session = session_neighbours(bundle, sig, st.n_session, lambda j: np.isin(j, pool))
    if sig.hist[-1:].tolist() != req.history[-1:].tolist():
        session = []  # as in the feed: only the very last item's neighbours are boosted
    labels = pipeline.catalog.label_index
    return describe(
        bundle, labels, view.vectors, view.added_at, trending, req, st, sig, ids, session
    )
