"""Build what the serving pipeline reads from a dataset: the sequence model, co-visitation
neighbours (item-kNN), trending, and the candidate ranker trained on validation replays.

Two phases, as in evaluation: the *valid* phase fits on every user's items but the last two and
trains the ranker to find the second-to-last; the *final* phase (train + valid) is what is
served and what the test replay scores.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shoprec.data.interactions import SequenceData, TrainData
from shoprec.data.records import Event, EventType
from shoprec.models.itemknn import ItemKNN, ItemKNNConfig
from shoprec.models.ranker import Ranker
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.online.state import UserState
from shoprec.online.tags import ItemTagger, tags_for_catalog
from shoprec.online.trending import Trending
from shoprec.ranking.candidates import Request, generate
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.bundle import ModelBundle, build_bundle
from shoprec.ranking.strategy import Strategy

log = logging.getLogger(__name__)

#: The item-kNN point chosen on Beauty validation (see the evaluation report).
ITEMKNN = ItemKNNConfig(k=200, shrink=50.0, alpha=0.5, recency_decay=0.5)
#: Users replayed to train the ranker, and negatives kept per user.
RANKER_USERS = 6000
RANKER_NEGATIVES = 40


def offline_catalog(data: SequenceData, text: np.ndarray, tagger: ItemTagger | None) -> Catalog:
    """A catalog whose index ``i`` is the dataset's internal item id ``i`` (added at time 0)."""
    cat = Catalog()
    tags = tags_for_catalog(data.catalog, text[1:], tagger)
    cat.upsert(data.catalog, text[1:], tags, [0.0] * data.n_items)
    return cat


def trending_at(histories: list[np.ndarray], times: list[np.ndarray] | None, n: int) -> np.ndarray:
    """Decayed event counts ``(n,)`` at the latest timestamp (the live engine's state after
    importing these histories); plain counts without timestamps."""
    flat = np.concatenate(histories) if histories else np.zeros(0, np.int64)
    if times is None:
        return np.bincount(flat, minlength=n).astype(np.float64)[:n]
    ts = np.concatenate(times)
    tr = Trending(n)
    now = float(ts.max())
    w = np.exp((ts - now) / tr.tau)  # decay to "now" directly
    return np.bincount(flat, w, minlength=n)[:n]


def interests(catalog: Catalog, history: np.ndarray, times: np.ndarray | None) -> dict[str, float]:
    """A shopper's interest tags after their history, as the live engine would hold them."""
    st = UserState()
    ts = times if times is not None else np.arange(len(history), dtype=np.float64)
    for i, t in zip(history.tolist(), ts.tolist(), strict=True):
        st.apply(Event("u", catalog.ids[i], EventType.PURCHASE, float(t)), list(catalog.labels[i]))
    return st.interest_weights()


def request(catalog: Catalog, history: np.ndarray, times: np.ndarray | None, now: float) -> Request:
    hist = np.asarray(history, np.int64)[-50:]
    t = None if times is None else np.asarray(times, np.float64)[-50:]
    return Request(hist, t, interests(catalog, hist, t), now)


def replay_candidates(
    catalog: Catalog,
    bundle: ModelBundle,
    trending: np.ndarray,
    histories: list[np.ndarray],
    times: list[np.ndarray] | None,
    targets: np.ndarray,
    users: np.ndarray,
    now: float,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each of ``users`` (with a history) replayed as a request: its candidates' features and
    1 where the candidate is the item taken next (items already taken are masked, as served)."""
    vectors, _, _, added_at = catalog.view()
    labels = catalog.label_index
    st = Strategy()
    out = []
    for u in users.tolist():
        h = histories[u]
        if not len(h):
            continue
        req = request(catalog, h, None if times is None else times[u], now)
        unseen = functools.partial(_unseen, taken=h)  # as served: taken items are masked
        c = generate(bundle, labels, vectors, added_at, trending, req, st, None, unseen)
        ok = unseen(c.ids)
        out.append((c.x[ok], (c.ids[ok] == targets[u]).astype(np.float64)))
    return out


def _unseen(ids: np.ndarray, taken: np.ndarray) -> np.ndarray:
    return ~np.isin(ids, taken)


def sample_rows(
    groups: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The ranker's training rows: of every replay that found the taken item, that item and
    up to :data:`RANKER_NEGATIVES` sampled other candidates."""
    xs, ys = [], []
    for x, y in groups:
        pos = y > 0
        if not pos.any():
            continue
        neg = np.flatnonzero(~pos)
        neg = rng.choice(neg, min(RANKER_NEGATIVES, len(neg)), replace=False)
        xs.append(np.vstack([x[pos], x[neg]]))
        ys.append(np.r_[np.ones(int(pos.sum())), np.zeros(len(neg))])
    return np.vstack(xs), np.concatenate(ys)


def fit_ranker(
    catalog: Catalog,
    bundle: ModelBundle,
    trending: np.ndarray,
    histories: list[np.ndarray],
    times: list[np.ndarray] | None,
    targets: np.ndarray,
    seed: int = 0,
) -> Ranker:
    """Logistic regression on replayed requests: 1 for the item the shopper took next."""
    rng = np.random.default_rng(seed)
    users = rng.choice(len(histories), min(RANKER_USERS, len(histories)), replace=False)
    now = max(float(t.max()) for t in times if len(t)) if times else 0.0
    groups = replay_candidates(catalog, bundle, trending, histories, times, targets, users, now)
    x, y = sample_rows(groups, rng)
    log.info(
        "ranker: %d rows from %d replays (%.1f%% positives)", len(y), len(groups), 100 * y.mean()
    )
    return Ranker().fit(x, y)


@dataclass
class ServingPhase:
    """The models of one phase, aligned to the offline catalog."""

    bundle: ModelBundle
    trending: np.ndarray
    now: float


def build_phase(
    data: SequenceData,
    catalog: Catalog,
    sasrec: SASRecRecommender | None,
    histories: list[np.ndarray],
    times: list[np.ndarray] | None,
    ranker: Ranker | None = None,
) -> ServingPhase:
    n = data.n_items + 1
    knn = ItemKNN(ITEMKNN).fit(TrainData(histories=histories, n_items=data.n_items))
    counts = np.bincount(np.concatenate(histories), minlength=n).astype(np.float64)
    bundle = build_bundle(catalog, sasrec, knn, ranker, data.items.to_list(), counts)
    now = max(float(t.max()) for t in times if len(t)) if times else 0.0
    return ServingPhase(bundle, trending_at(histories, times, n), now)


class PipelineRecommender:
    """The served pipeline behind the evaluation contract: ``score`` replays each user through
    it and returns a full row where the pipeline's list comes first, in its order, and every
    other item follows in the sequence model's order (so metrics at any cut-off are defined).
    """

    name = "pipeline"
    uses_time = True

    def __init__(self, catalog: Catalog, phase: ServingPhase, strategy: Strategy) -> None:
        from shoprec.ranking.pipeline import Pipeline

        self.catalog, self.phase, self.strategy = catalog, phase, strategy
        self.pipeline = Pipeline(catalog, strategy)
        self.n_list = 50

    def fit(self, data: TrainData) -> PipelineRecommender:  # fitted by build_phase
        return self

    def score(
        self,
        users: np.ndarray,
        histories: list[np.ndarray],
        timestamps: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        from shoprec.ranking.rerank import Filters

        b = self.phase.bundle
        out = np.full((len(histories), b.n_rows), -1e9, np.float32)
        for row, h in enumerate(histories):
            t = None if timestamps is None else timestamps[row]
            req = request(self.catalog, h, t, self.phase.now)
            if b.encoder is not None and len(req.history):
                base = b.encoder.scores(req.history, req.times)
                out[row] = np.where(np.isfinite(base), base - 1e6, -1e9)
            filters = Filters(exclude=frozenset(np.asarray(h).tolist()), in_stock_only=False)
            res = self.pipeline.recommend(b, self.phase.trending, req, self.n_list, filters)
            for k, r in enumerate(res.items):
                out[row, r.index] = 1e6 - k
        out[:, 0] = -np.inf
        return out


def save_serving(path: Path, phase: ServingPhase, knn_source: dict, sasrec_path: Path) -> str:
    """Publish the final phase's ranker and co-visitation table; returns the version."""
    path.mkdir(parents=True, exist_ok=True)
    b = phase.bundle
    assert b.ranker is not None
    b.ranker.save(path / "ranker")
    np.savez(
        path / "neighbours.npz",
        covis_ids=b.covis_ids,
        covis_sims=b.covis_sims,
        popularity=b.popularity,
        trending=phase.trending,
    )
    version = f"{int(time.time())}"
    manifest = {
        "version": version,
        "sasrec": str(sasrec_path),
        "item_ids": knn_source["item_ids"],
        "now": phase.now,
        "format_version": 1,
    }
    tmp = path / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest))
    tmp.replace(path / "manifest.json")  # the version flips atomically: replicas hot-reload
    return version
