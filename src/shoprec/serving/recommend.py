"""The engine's recommendations: a shopper's state as the pipeline's request, the home feed
through :mod:`shoprec.ranking` (with the fill order kept between requests), and items like an
item. Every list is answered, also while the shared store is unreachable (from trending,
flagged in ``fallback``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from shoprec.data.keys import state_key
from shoprec.online.state import HISTORY, UserState
from shoprec.ranking.attribution import MAX_ATTRIBUTED
from shoprec.ranking.batched import prepare_requests
from shoprec.ranking.bundle import ModelBundle, extend, neighbours
from shoprec.ranking.bundle_io import NO_BUNDLE
from shoprec.ranking.candidates import Request, head_size
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.explain import short
from shoprec.ranking.pipeline import Pipeline, Recommended, Result, make_fill_order
from shoprec.ranking.rank_list import RankedList, rank_list
from shoprec.ranking.rerank import Filters, allowed, follow_order
from shoprec.ranking.strategy import Strategy
from shoprec.serving.live import Live
from shoprec.serving.reviews import ReviewScoring
from shoprec.serving.stats import Counters, LiveStats
from shoprec.store.errors import StoreUnavailable

#: The ``fallback`` of answers served while the shared store is unreachable.
STORE_DOWN = "store unavailable: trending items"
#: The ``fallback`` of feeds served before any bundle was trained (an empty store's) that the
#: shopper's history does not personalise (by text neighbours).
NO_MODEL = "no trained model yet: trending and new items"


def shopper_request(catalog: Catalog, state: UserState | None, now: float) -> Request:
    """The pipeline's view of a shopper: recent items in catalog indices, interests."""
    if state is None:
        return Request(np.zeros(0, np.int64), None, {}, now)
    recent = state.recent[-HISTORY:]
    get = catalog.index.get
    pairs = [(get(i, 0), t) for i, t, _ in recent]
    pairs = [(i, t) for i, t in pairs if i]
    hist = np.fromiter((i for i, _ in pairs), np.int64, len(pairs))
    times = np.fromiter((t for _, t in pairs), np.float64, len(pairs))
    return Request(hist, times, state.interest_weights(now), now)


def bought(catalog: Catalog, state: UserState | None) -> set[int]:
    """Catalog indices of the items ``state``'s shopper bought."""
    return set(catalog.indices(sorted(state.bought)).tolist()) if state else set()


@dataclass
class Prepared:
    """One shopper's state read ahead by a batch (:meth:`Recommender.prepare`), with the
    request whose sequence-model vectors were encoded together with the batch's others
    (for ``bundle``; a reload since then means they are computed afresh)."""

    state: UserState | None
    down: bool
    req: Request
    bundle: ModelBundle


class Recommender:
    """Parameters
    ----------
    live : what the engine's jobs share (catalog, trending, states, bundle, clock).
    pipeline : the ranking pipeline (its ``strategy`` is the default).
    reviews : review sentiment, for the drift and the reviewers' share a reason may cite.
    stats, counters : what was served, and the fallbacks, for the dashboard and /metrics.
    """

    def __init__(
        self,
        live: Live,
        pipeline: Pipeline,
        reviews: ReviewScoring,
        stats: LiveStats,
        counters: Counters,
    ) -> None:
        self.live, self.pipeline, self.reviews = live, pipeline, reviews
        self.stats, self.counters = stats, counters
        # (trending version, bundle, every item by trending then popularity): the fill order
        self.fill: tuple[int, ModelBundle, np.ndarray] | None = None

    def request_for(self, state: UserState | None) -> Request:
        return shopper_request(self.live.catalog, state, self.live.clock)

    def prepare(self, user_ids: Sequence[str]) -> dict[str, Prepared]:
        """The shoppers' states and requests, their sequence-model vectors encoded in stacked
        passes (:func:`~shoprec.ranking.batched.prepare_requests`): what a batch hands
        :meth:`recommend` per shopper, which then answers exactly as without it."""
        live, out = self.live, {}
        bundle = live.bundle
        for u in dict.fromkeys(user_ids):
            state, down = self._state(u, None)
            out[u] = Prepared(state, down, self.request_for(state), bundle)
        cap = MAX_ATTRIBUTED if self.pipeline.attribute else None  # no reasons' attribution
        k = head_size(self.pipeline.strategy)  # an experiment's other size: computed per shopper
        prepare_requests(bundle, [p.req for p in out.values()], cap, k)
        return out

    def recommend(
        self,
        user_id: str,
        n: int = 20,
        category: str | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] = (),
        strategy: Strategy | None = None,
        session_id: str | None = None,
        prepared: Prepared | None = None,
    ) -> Result:
        """``prepared``: the shopper's state read ahead by a batch (:meth:`prepare`; used
        when it is for this bundle), else read now."""
        live = self.live
        bundle = live.bundle
        if prepared is not None and prepared.bundle is bundle:
            state, down, req = prepared.state, prepared.down, prepared.req
        else:
            state, down = self._state(user_id, session_id)
            req = self.request_for(state)
        excl = set(live.catalog.indices(list(exclude)).tolist()) | bought(live.catalog, state)
        filters = Filters(frozenset(excl), category, min_price, max_price)
        version = live.trending.version  # read first: a write meanwhile only means a recompute
        trending = live.trending.scores(bundle.n_rows)
        hot = live.trending.top((strategy or self.pipeline.strategy).n_trending, bundle.n_rows)

        def fill_order() -> np.ndarray:  # built when a list runs short; kept until an event
            fill = self.fill  # (trending's version) or a reload changes it
            if fill is None or fill[0] != version or fill[1] is not bundle:
                fill = self.fill = (version, bundle, make_fill_order(bundle, trending))
            return fill[2]

        result = self.pipeline.recommend(
            bundle,
            trending,
            req,
            n,
            filters,
            strategy,
            self.reviews.drift,
            trending_top=hot,
            fill_order=fill_order,
        )
        self._review_reasons(result.items)
        if down:
            result.fallback = STORE_DOWN
        elif result.fallback and bundle.version == NO_BUNDLE:  # untrained
            result.fallback = NO_MODEL  # why a shopper without history gets trending
        self.stats.add_served([r.index for r in result.items], result.fallback is not None)
        if result.fallback:
            self.counters.fallbacks[result.fallback] = (
                self.counters.fallbacks.get(result.fallback, 0) + 1
            )
        return result

    def _state(self, user_id: str, session_id: str | None) -> tuple[UserState | None, bool]:
        """The shopper's state and whether the shared store was down (then None: the answer
        goes on, from in-process trending or unpersonalised, and is flagged)."""
        try:
            return self.live.states.get(state_key(user_id, session_id)), False
        except StoreUnavailable:
            return None, True

    def _review_reasons(self, items: list[Recommended]) -> None:
        for r in items if self.reviews.reviews else ():  # a true fact from reviews
            share = self.reviews.sentiment_of(r.index)
            if share and share[1] >= 5 and share[0] >= 0.8 and len(r.reasons) < 3:
                r.reasons.append(f"{round(100 * share[0])}% of {share[1]} reviewers are positive")

    def rank(
        self,
        item_ids: Sequence[str],
        user_id: str | None = None,
        session_id: str | None = None,
        keep_bought: bool = False,
        keep_out_of_stock: bool = False,
    ) -> RankedList:
        """The caller's ``item_ids`` (unique) re-ranked for the shopper by the feed's pipeline
        (:func:`~shoprec.ranking.rank_list.rank_list`): items the shopper bought and items out
        of stock move after the others unless kept, unknown ids come last."""
        live = self.live
        state, down = self._state(user_id or "", session_id)
        catalog = live.catalog
        get = catalog.index.get
        idx = np.fromiter((get(i, 0) for i in item_ids), np.int64, len(item_ids))
        bundle = live.bundle
        if len(idx) and int(idx.max()) >= bundle.n_rows:  # an item newer than the bundle
            bundle = extend(bundle, catalog)
        demote: dict[str, np.ndarray] = {}
        if not keep_bought:
            taken = np.fromiter(bought(catalog, state), np.int64)
            demote["bought"] = np.isin(idx, taken)
        if not keep_out_of_stock:
            demote["out_of_stock"] = ~catalog.view().in_stock[idx]
        trending = live.trending.scores(bundle.n_rows)
        req = self.request_for(state)
        res = rank_list(self.pipeline, bundle, trending, req, idx, demote, None, self.reviews.drift)
        self._review_reasons(res.items)
        if down:
            res.fallback = "store unavailable: ranked by trending and popularity"
        return res

    def similar(
        self,
        item_id: str,
        n: int = 10,
        user_id: str | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[int, float, str]]:
        """Items like ``item_id``: co-visitation neighbours first, then text neighbours; in
        stock, and with ``user_id`` none that shopper bought, none in ``exclude`` (item ids:
        a next page leaves out the items shown before; the next nearest instead)."""
        catalog = self.live.catalog
        idx = catalog.get(item_id)
        if not idx:
            return []
        try:
            state = self.live.states.get(user_id) if user_id else None
        except StoreUnavailable:  # still answer: not personalised
            state = None
        taken = bought(catalog, state) | set(catalog.indices(list(exclude)).tolist())
        b = self.live.bundle
        if idx >= b.n_rows:
            b = extend(b, catalog)
        title = short(catalog.title(idx))
        why = {"covis": f"Often bought with {title}", "text": f"Similar to {title}"}
        view = catalog.view()
        near = neighbours(b, idx, 3 * n + len(taken))
        ids = np.fromiter((j for j, _, _ in near), np.int64, len(near))
        ok = allowed(ids, Filters(frozenset(taken)), view.price, view.in_stock).tolist()
        shown = [(j, s, src) for (j, s, src), good in zip(near, ok, strict=True) if good][:n]
        # the score orders the list: a text neighbour's similarity is scaled below the least
        # co-visitation one (of every page: the excluded ones count), which come first
        floor = min((s for _, s, src in near if src == "covis"), default=1.0)
        own: list[float | None] = [s if src == "covis" else floor * s for _, s, src in shown]
        final = follow_order(own)
        return [(j, score, why[src]) for (j, _, src), score in zip(shown, final, strict=True)]
