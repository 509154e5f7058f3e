"""The promotion gate's hold-out: the newest slice of the store's log, and the served
pipeline's feed scored on it (HR@10, NDCG@10).

Which shoppers are held out (docs/bundles.md, "The hold-out"): those whose last interaction
came after the served bundle's cut-off (log seq) when at least :data:`MIN_AFTER_CUTOFF` of them
did, so neither bundle has seen their targets; else those whose last interaction is in the last
``holdout_days`` days of the log; else in the last :data:`SPAN_SHARE` of its time span. Each
held-out shopper's target is their last interaction, their history everything before it. The
new bundle never trains on it: its final models are fitted leave-one-out (every shopper's last
interaction left out, :func:`shoprec.data.splits.leave_one_out`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from shoprec.data.event_types import is_item_signal
from shoprec.data.interactions import SequenceData
from shoprec.data.keys import state_key
from shoprec.models import rank_metrics as R
from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.fit import request
from shoprec.ranking.pipeline import Pipeline
from shoprec.ranking.rerank import Filters
from shoprec.ranking.strategy import Strategy
from shoprec.store.protocols import EventLog

log = logging.getLogger(__name__)

#: The slice after the served bundle's cut-off is used when it holds this many shoppers.
MIN_AFTER_CUTOFF = 100
#: A time slice with fewer shoppers than this widens to every shopper (a tiny store).
MIN_SHOPPERS = 20
#: Shoppers scored at most (an evenly seeded sample of the slice): the gate's cost bound.
MAX_SHOPPERS = 2000
#: The fallback slice: this share of the log's time span, the newest.
SPAN_SHARE = 0.1
DAY = 86400.0
K = 10


@dataclass
class Holdout:
    """Held-out shoppers (rows of the export) and the rule that chose them."""

    users: np.ndarray
    rule: str

    def histories(self, data: SequenceData) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        hist = [data.sequences[u][:-1] for u in self.users.tolist()]
        if data.timestamps is None:
            return hist, None
        return hist, [data.timestamps[u][:-1] for u in self.users.tolist()]

    def targets(self, data: SequenceData) -> np.ndarray:
        return np.array([int(data.sequences[u][-1]) for u in self.users.tolist()], np.int64)


def after_cutoff(data: SequenceData, events: EventLog, cutoff_seq: int) -> np.ndarray:
    """Export rows whose last interaction was appended to the log after ``cutoff_seq``."""
    upto = int(str(data.extra.get("event_log_seq", events.last_seq())))
    late: dict[str, set[str]] = {}
    for seq, e in events.replay(after=cutoff_seq):
        if seq > upto:
            break
        if e.item_id and is_item_signal(e.type):
            late.setdefault(state_key(e.user_id, e.session_id), set()).add(e.item_id)
    ids, users = data.items.to_list(), data.users.to_list()
    rows = [
        u for u, seq in enumerate(data.sequences) if ids[int(seq[-1]) - 1] in late.get(users[u], ())
    ]
    return np.array(rows, np.int64)


def choose_holdout(
    data: SequenceData,
    events: EventLog,
    served_cutoff: int | None,
    holdout_days: float | None,
    seed: int = 0,
) -> Holdout:
    """The held-out shoppers by the module doc's rule, at most :data:`MAX_SHOPPERS`."""
    users, rule = np.zeros(0, np.int64), ""
    if served_cutoff is not None:
        users = after_cutoff(data, events, served_cutoff)
        rule = f"last interaction after the served bundle's cut-off (log seq {served_cutoff})"
    if len(users) < MIN_AFTER_CUTOFF and data.timestamps is not None and data.n_users:
        last = np.array([float(t[-1]) for t in data.timestamps])
        first = min(float(t[0]) for t in data.timestamps)
        if holdout_days is not None:
            since, rule = last.max() - holdout_days * DAY, f"last {holdout_days:g} days"
        else:
            since = last.max() - SPAN_SHARE * (last.max() - first)
            rule = f"last {SPAN_SHARE:.0%} of the log's time span"
        users = np.flatnonzero(last >= since)
    if len(users) < MIN_SHOPPERS:
        users, rule = (
            np.arange(data.n_users),
            "every shopper's last interaction (the time slice held too few)",
        )
    if len(users) > MAX_SHOPPERS:
        rng = np.random.default_rng(seed)
        users = np.sort(rng.choice(users, MAX_SHOPPERS, replace=False))
    log.info("hold-out: %d shoppers (%s)", len(users), rule)
    return Holdout(users, rule)


def feed_metrics(
    catalog: Catalog,
    bundle: ModelBundle,
    trending: np.ndarray,
    now: float,
    histories: list[np.ndarray],
    times: list[np.ndarray] | None,
    targets: np.ndarray,
) -> dict[str, float]:
    """HR@10 and NDCG@10 of the served pipeline's first feed page (default strategy, the
    shopper's items excluded, as served) for each history and its target."""
    pipeline = Pipeline(catalog, Strategy())
    ranks = np.full(len(histories), K, np.int64)  # K: not in the page
    for row, h in enumerate(histories):
        req = request(catalog, h, None if times is None else times[row], now)
        filters = Filters(exclude=frozenset(np.asarray(h).tolist()), in_stock_only=False)
        res = pipeline.recommend(bundle, trending, req, K, filters)
        page = [r.index for r in res.items]
        if int(targets[row]) in page:
            ranks[row] = page.index(int(targets[row]))
    return {
        "HR@10": R.hit_rate(ranks, K),
        "NDCG@10": R.ndcg(ranks, K),
        "shoppers": len(histories),
    }
