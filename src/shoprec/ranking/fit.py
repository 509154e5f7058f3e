"""Fitting the ranker: build what the serving pipeline reads from a dataset (the sequence model,
co-visitation neighbours (item-kNN), trending) and the candidate ranker trained on validation
replays. The server's build and ``shoprec evaluate --models pipeline`` both call
:func:`fit_phases`.

Two phases, as in evaluation: the *valid* phase fits on every user's items but the last two and
trains the ranker to find the second-to-last; the *final* phase (train + valid) is what is
served and what the test replay scores.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from shoprec.data.interactions import SequenceData, TrainData
from shoprec.data.records import Event, EventType
from shoprec.data.splits import leave_one_out
from shoprec.models.itemknn import ItemKNN, ItemKNNConfig
from shoprec.models.ranker import Ranker
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.online.state import HISTORY, UserState
from shoprec.online.tags import ItemTagger, tags_for_catalog
from shoprec.online.trending import Trending
from shoprec.ranking.bundle import ModelBundle, build_bundle
from shoprec.ranking.bundle_io import FittedBundle
from shoprec.ranking.candidates import Request, generate
from shoprec.ranking.catalog import Catalog
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
    hist = np.asarray(history, np.int64)[-HISTORY:]
    t = None if times is None else np.asarray(times, np.float64)[-HISTORY:]
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
    view = catalog.view()
    vectors, added_at = view.vectors, view.added_at
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
    """The models of one phase, aligned to the offline catalog (``bundle``) and in the
    model's own item ids (``fitted``: what a versioned bundle saves)."""

    bundle: ModelBundle
    trending: np.ndarray
    now: float
    fitted: FittedBundle


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
    ids = data.items.to_list()
    bundle = build_bundle(catalog, sasrec, knn, ranker, ids, counts)
    now = max(float(t.max()) for t in times if len(t)) if times else 0.0
    fitted = FittedBundle(ids, sasrec, knn, counts, ranker)
    # a large catalog's indexes travel in the saved bundle (ann/): loading it needs no rebuild
    fitted.indexes, fitted.index_items = bundle.indexes, list(catalog.ids[: bundle.n_rows])
    return ServingPhase(bundle, trending_at(histories, times, n), now, fitted)


def fit_phases(
    data: SequenceData,
    catalog: Catalog,
    valid_model: SASRecRecommender | None,
    final_model: SASRecRecommender | None,
    final_catalog: Catalog | None = None,
    seed: int = 0,
) -> tuple[ServingPhase, ServingPhase]:
    """The valid phase, the ranker fitted on its validation replays, then the final phase
    served with that ranker (see the module doc).

    Parameters
    ----------
    data : the dataset; split leave-one-out as in evaluation.
    catalog : the offline catalog (:func:`offline_catalog`) the valid phase and the ranker's
        replays read.
    valid_model, final_model : the sequence model fitted on train, and on train + valid.
    final_catalog : the catalog the final phase is aligned to (the live engine's); default
        ``catalog``.
    seed : the ranker's sampling seed (:func:`fit_ranker`).

    Returns
    -------
    tuple[ServingPhase, ServingPhase]
        ``(valid, final)``; both bundles hold the ranker.
    """
    split = leave_one_out(data.sequences, data.timestamps)
    valid = build_phase(data, catalog, valid_model, split.train, split.train_times())
    ranker = fit_ranker(
        catalog,
        valid.bundle,
        valid.trending,
        split.train,
        split.train_times(),
        split.valid,
        seed=seed,
    )
    valid.bundle.ranker = valid.fitted.ranker = ranker
    final = build_phase(
        data,
        catalog if final_catalog is None else final_catalog,
        final_model,
        split.test_histories(),
        split.test_times(),
        ranker,
    )
    return valid, final
