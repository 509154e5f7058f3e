"""The recommendation pipeline: candidates -> score -> filters -> re-rank -> explanations.

Every request is answered: with no usable history, or if a model fails, the list comes from
trending and popular items and the response names the fallback (docs/architecture.md, invariants).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from shoprec.ranking.attribution import Anchors
from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.candidates import Candidates, F, Request, generate
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.explain import fallback_reason, goes_with, reasons_for
from shoprec.ranking.rerank import Filters, allowed, explore_slots, follow_order, mmr_scored
from shoprec.ranking.rules import FEATURED, Applied, RuleBook, place_pins
from shoprec.ranking.strategy import Strategy

log = logging.getLogger(__name__)


@dataclass
class Recommended:
    """``score`` the value the list is ordered by (never increasing down the list);
    ``model_score`` the ranker's own relevance (None for an item the ranker did not score)."""

    index: int
    score: float
    reasons: list[str]
    model_score: float | None = None


@dataclass
class Result:
    items: list[Recommended]
    fallback: str | None


class Pipeline:
    """Stateless per request; reads the catalog, the current model bundle and trending, and
    the shop's business rules (``rules``, :mod:`~shoprec.ranking.rules`; None: none)."""

    def __init__(
        self,
        catalog: Catalog,
        strategy: Strategy | None = None,
        seed: int = 0,
        rules: RuleBook | None = None,
    ) -> None:
        self.catalog = catalog
        self.strategy = strategy or Strategy()
        self.rng = np.random.default_rng(seed)
        self.rules = rules

    #: Name the history item that explains each reason by leave-one-out (False: the latest
    #: item for the sequence model and the latest pick for its neighbours, as before).
    attribute = True

    def recommend(
        self,
        bundle: ModelBundle,
        trending: np.ndarray,
        req: Request,
        n: int,
        filters: Filters,
        strategy: Strategy | None = None,
        drift: dict[int, float] | None = None,
        trending_top: np.ndarray | None = None,
        fill_order: Callable[[], np.ndarray] | None = None,
    ) -> Result:
        """Top ``n`` for one shopper; ``trending`` ``(bundle.n_rows,)`` decayed scores,
        ``trending_top`` the most trending items best first, ``fill_order`` gives every item
        by trending then popularity (:func:`make_fill_order`, cached by the caller) or None."""
        st = strategy or self.strategy
        cat = self.catalog
        view = cat.view().head(bundle.n_rows)
        vectors, price, in_stock = view.vectors, view.price, view.in_stock
        category_ok = self._category_mask(filters.category, bundle.n_rows)
        applied = self.rules.applied(cat, bundle.n_rows) if self.rules is not None else None
        if applied is not None:  # blocked items pass no filter: neither ranked nor fill
            category_ok = applied.allow(category_ok, bundle.n_rows)
        fallback = None
        try:
            cands = generate(
                bundle,
                cat.label_index,
                vectors,
                view.added_at,
                trending,
                req,
                st,
                trending_top,
                lambda ids: allowed(ids, filters, price, in_stock, category_ok),
            )
        except Exception:  # a model failure must not fail the request
            log.exception("candidate generation failed; serving trending")
            cands, fallback = None, "model error: trending items"
        picked: list[Recommended] = []
        own: list[float | None] = []  # the score that ordered each, None: placed by a rule
        if cands is not None and len(cands.ids):
            keep = allowed(cands.ids, filters, price, in_stock, category_ok)
            picked, own = self._rank(bundle, cands, keep, n, st, vectors, req, drift or {}, applied)
        if not len(req.history) and fallback is None:
            fallback = "new shopper: trending and new items"
        if len(picked) < n:
            # fill from trending, then popularity (also the whole answer for cold starts)
            taken = {r.index for r in picked}
            alone = not picked  # the whole list is fill
            order = fill_order() if fill_order is not None else make_fill_order(bundle, trending)
            # the head of the order is nearly always enough: filter the whole only if not
            for limit in (max(256, 8 * n), len(order)):
                head = order[:limit]
                fill = head[allowed(head, filters, price, in_stock, category_ok)]
                if len(fill) >= 2 * n or limit >= len(order):
                    break
            for idx in fill:
                if len(picked) >= n:
                    break
                if int(idx) in taken:
                    continue
                kind = "trending" if trending[idx] > 0 else "popular"
                picked.append(Recommended(int(idx), 0.0, [fallback_reason(cat, int(idx), kind)]))
                # a list of fill alone is ordered by trending; a fill after ranked items is
                # placed below them
                own.append(float(trending[idx]) if alone else None)
                taken.add(int(idx))
        picked, own = picked[:n], own[:n]
        if applied is not None and applied.pins:
            picked, own = _with_pins(
                picked,
                own,
                applied,
                n,
                lambda ids: allowed(ids, filters, price, in_stock, category_ok),
            )
        for r, s in zip(picked, follow_order(own), strict=True):
            r.score = s
        return Result(picked, fallback)

    def _category_mask(self, category: str | None, n_rows: int) -> np.ndarray | None:
        if not category:
            return None
        return self.catalog.in_category(category, n_rows)

    def score(
        self, bundle: ModelBundle, cands: Candidates, st: Strategy
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(C,)`` relevance and ``(C, F)`` each feature's share of it (what the reasons
        cite): the ranker's logits, or without one the strongest available single signal (the
        sequence score, else co-visitation then trending)."""
        if st.use_ranker and bundle.ranker is not None:
            return bundle.ranker.scored(cands.x)
        w = np.zeros(cands.x.shape[1])
        if cands.seq_scores is not None:
            w[F["seq"]] = 1.0
        else:
            w[F["covis"]], w[F["trending"]] = 1e3, 1.0
        contrib = cands.x * w
        return contrib.sum(axis=1), contrib

    def _rank(
        self,
        bundle: ModelBundle,
        cands: Candidates,
        keep: np.ndarray,
        n: int,
        st: Strategy,
        vectors: np.ndarray,
        req: Request,
        drift: dict[int, float],
        rules: Applied | None = None,
    ) -> tuple[list[Recommended], list[float | None]]:
        """The top ``n`` of the ``keep`` candidates, re-ranked and explained, and the score
        that ordered each (None: placed by a rule, a reserved slot; see
        :func:`~shoprec.ranking.rerank.follow_order`)."""
        rel, contrib = self.score(bundle, cands, st)
        pos = np.flatnonzero(keep)
        if not len(pos):
            return [], []
        rel_k = rel[pos]
        if rules is not None and rules.shift is not None:  # boosts and buries, as a span share
            span = float(rel_k.max() - rel_k.min()) or 1.0
            rel_k = rel_k + span * rules.shift[cands.ids[pos]]
        explored: dict[int, int] = {}
        latest = int(req.history[-1]) if len(req.history) else 0
        boosted: set[int] = set()
        closest: list[int] = []  # boosted candidate positions, the latest item's nearest first
        if st.rerank:
            if st.session_boost > 0 and latest:
                near = cands.session  # the latest item's neighbours (generate's source)
                at = dict(zip(cands.ids[pos].tolist(), range(len(pos)), strict=True))
                closest_k = [at[j] for j, _, _ in near if j in at]  # in neighbour order
                hit = np.zeros(len(pos))
                hit[closest_k] = 1.0
                span = float(rel_k.max() - rel_k.min()) or 1.0
                rel_k = rel_k + st.session_boost * span * hit
                closest = pos[closest_k].tolist()
                boosted = set(closest)
            if st.sentiment > 0 and drift:
                # a product whose reviews are turning negative is demoted (drift in [-2, 0])
                d = np.array([min(0.0, drift.get(int(i), 0.0)) for i in cands.ids[pos]])
                span = float(rel_k.max() - rel_k.min()) or 1.0
                rel_k = rel_k + st.sentiment * span * d
            if st.novelty > 0:
                pop = np.log1p(bundle.popularity[cands.ids[pos]])
                top = pop.max() if len(pop) and pop.max() > 0 else 1.0
                span = float(rel_k.max() - rel_k.min()) or 1.0
                rel_k = rel_k + st.novelty * span * (1.0 - pop / top)
            picks, gains = mmr_scored(rel_k, vectors, n, st.mmr_lambda, rows=cands.ids[pos])
            order = pos[picks]
            # the MMR objective each was picked at orders the list; a slot's item has none
            ordered_by = dict(zip(order.tolist(), gains.tolist(), strict=True))
            if closest and st.session_slots > 0:
                before = {p: k for k, p in enumerate(order.tolist())}
                order = _with_session_slots(order, closest, st.session_slots, n)
                for k, p in enumerate(order.tolist()):
                    if before.get(p, n) > k and p in boosted:  # moved up into its slot
                        ordered_by.pop(p, None)
            slots = explore_slots(min(n, len(order)), st.exploration)
            new_pool: list[int] = []
            if slots:
                fresh = pos[cands.x[pos, F["is_new"]] > 0]
                if len(fresh):
                    new_pool = fresh[~np.isin(fresh, order)].tolist()
            order_l = order.tolist()
            for slot in slots:
                if not new_pool:
                    break
                j = int(self.rng.integers(len(new_pool)))
                order_l.insert(slot, new_pool.pop(j))
                explored[order_l[slot]] = slot
            order = np.asarray(order_l[:n], np.int64)
        else:
            top = np.argsort(-rel_k, kind="stable")[:n]
            order = pos[top]
            ordered_by = dict(zip(order.tolist(), rel_k[top].tolist(), strict=True))
        own = [None if p in explored else ordered_by.get(p) for p in order.tolist()]
        out = []
        # plain Python rows for the explanations: cheaper than numpy scalars item by item
        xs, cs = cands.x[order].tolist(), contrib[order].tolist()
        ranked = np.argsort(-contrib[order], axis=1, kind="stable").tolist()
        ids, text_at = (a[order].tolist() for a in (cands.ids, cands.text_anchor))
        # the history items the reasons name, by leave-one-out over the shown items only
        why = Anchors(
            bundle,
            req,
            cands.ids[order],
            cands.covis_anchor[order],
            cands.seq_scores,
            faithful=self.attribute,
        )
        source = {j: src for j, _, src in cands.session}
        for k, p in enumerate(order.tolist()):
            idx = ids[k]
            if p in explored:
                reasons = [fallback_reason(self.catalog, idx, "new")]
            else:
                reasons = reasons_for(
                    self.catalog,
                    idx,
                    xs[k],
                    cs[k],
                    partial(why.covis, k),
                    text_at[k],
                    self.catalog.label_index.name(int(cands.affinity_label[p])),
                    partial(why.seq, k),
                    ranked[k],
                )
            if p in boosted:
                src = source.get(idx, "covis")
                named = latest
                if self.attribute:  # co-visitation's leave-one-out item, or the closest text
                    named = why.covis(k) if src == "covis" else text_at[k]
                reasons = goes_with(self.catalog, reasons, named, latest, src)
            if rules is not None and rules.is_featured(idx):  # boosted: the shop chose it
                reasons = [FEATURED, *reasons][:2]
            out.append(Recommended(idx, float(rel[p]), reasons, float(rel[p])))
        return out, own


def _with_pins(
    picked: list[Recommended],
    own: list[float | None],
    rules: Applied,
    n: int,
    usable: Callable[[np.ndarray], np.ndarray],
) -> tuple[list[Recommended], list[float | None]]:
    """``picked`` (and the scores that ordered them) with each pinned item the request's
    filters admit at its position, "Featured" first in its reasons; placed by a rule, so its
    score follows the list's (``own`` None)."""
    rows = place_pins([r.index for r in picked], rules.pins, usable, n)
    was = {r.index: (r, s) for r, s in zip(picked, own, strict=True)}
    pinned = {i for i, _ in rules.pins}
    out, scores = [], []
    for i in rows:
        if i in pinned:
            r = was.get(i, (None, None))[0]
            reasons = [FEATURED, *(x for x in r.reasons if x != FEATURED)][:2] if r else [FEATURED]
            out.append(Recommended(i, 0.0, reasons, r.model_score if r else None))
            scores.append(None)
        else:
            out.append(was[i][0])
            scores.append(was[i][1])
    return out, scores


def make_fill_order(bundle: ModelBundle, trending: np.ndarray) -> np.ndarray:
    """Every item (``bundle.n_rows``) by trending score, ties by popularity: the fill of short
    lists and the whole answer for new shoppers."""
    return np.lexsort((-bundle.popularity, -trending[: bundle.n_rows]))


#: The ``i``-th nearest neighbour of the last item ranks no lower than ``FIRST + EVERY * i``
#: (0-based): positions 3, 8, 13 and 18 of a 20-item feed, one in five further down.
SESSION_FIRST, SESSION_EVERY = 3, 5


def _with_session_slots(order: np.ndarray, closest: list[int], slots: int, n: int) -> np.ndarray:
    """``order`` (candidate positions, best first) cut to ``n``, where the ``i``-th of the
    ``slots`` first of ``closest`` (the last item's neighbours among the candidates, nearest
    first) ranks at position ``SESSION_FIRST + SESSION_EVERY * i`` or higher: one ranked
    lower, or not at all, moves up to that position, pushing the rest down. Nearest, not
    most relevant: after a click the shopper sees what is most like it, the items
    ``/similar`` names first, which diversity alone would demote as near-duplicates."""
    head = order[:n].tolist()
    moved = False
    for i, p in enumerate(closest[:slots]):
        slot = SESSION_FIRST + SESSION_EVERY * i
        if slot >= n:
            break
        at = head.index(p) if p in head else None
        if at is not None and at <= slot:
            continue
        if at is not None:
            head.pop(at)
        head.insert(slot, p)
        moved = True
    return np.asarray(head[:n], np.int64) if moved else order[:n]
