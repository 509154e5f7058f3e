"""``shoprec train --store S``: one training run from the store's live event log to a versioned
bundle, scored against the served one on the newest slice of the log, published if it is not
worse (docs/bundles.md).

export the log (erased shoppers are gone from it) -> text vectors -> SASRec (valid fit and
refit, calibrated) -> co-visitation, popularity and the ranker (:func:`fit_phases`) -> the
served pipeline's feed scored on the hold-out (:mod:`~shoprec.training.heldout`) for the new
bundle and the published one, both aligned to the store's catalog now -> the gate -> saved ->
published when the gate passes.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from shoprec.data.interactions import SequenceData
from shoprec.data.splits import leave_one_out
from shoprec.models.sasrec import SASRecConfig
from shoprec.online.tags import ItemTagger
from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.bundle_io import FittedBundle, align, new_version, save_bundle
from shoprec.ranking.bundle_shelf import BundleShelf
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.fit import fit_phases, offline_catalog, trending_at
from shoprec.settings import Settings
from shoprec.store import open_stores
from shoprec.training.export import export_sequences
from shoprec.training.heldout import Holdout, choose_holdout, feed_metrics
from shoprec.training.sasrec_job import (
    BEST_CONFIG,
    TrainedSASRec,
    text_vectors_for,
    train_sasrec,
)
from shoprec.training.tuning import tune_sasrec

log = logging.getLogger(__name__)

#: The quick preset's SASRec budget (the demo's, as ``serve --quick``).
QUICK_SECONDS = 120.0


class NothingToTrain(ValueError):
    """The store holds no shopper with enough interactions to train on (an empty shop)."""


@dataclass
class TrainReport:
    """What one run produced and what the gate decided (``decision``: ``first``,
    ``promoted``, ``refused`` or ``kept aside`` when publishing was not asked for)."""

    version: str
    path: Path
    published: bool
    decision: str
    reason: str
    heldout: dict
    seconds: float
    manifest: dict = field(default_factory=dict)


@functools.cache
def _tagger() -> ItemTagger:
    from shoprec.text.encoder import TextEncoder

    return ItemTagger(TextEncoder())


def _served(shelf: BundleShelf, version: str | None) -> tuple[FittedBundle | None, str]:
    if version is None:
        return None, "first bundle of this store"
    try:
        return shelf.load(version), ""
    except (OSError, ValueError) as exc:
        log.warning("the published bundle %s cannot be loaded: %s", version, exc)
        return None, f"the published bundle {version} cannot be loaded ({exc})"


def gate(new: float, served: float | None, tolerance: float, why_none: str) -> tuple[str, str]:
    """``(decision, reason)``: promoted unless the new held-out NDCG@10 is below the served
    one's by more than ``tolerance``; the first bundle always passes."""
    if served is None:
        return "first", why_none
    if new >= served - tolerance:
        return "promoted", f"held-out NDCG@10 {new:.4f} >= served {served:.4f} - {tolerance:g}"
    return "refused", f"held-out NDCG@10 {new:.4f} < served {served:.4f} - {tolerance:g}"


def train_bundle(
    store: str | Path,
    settings: Settings,
    *,
    max_seconds: float | None = None,
    quick: bool = False,
    holdout_days: float | None = None,
    tolerance: float | None = None,
    publish: bool = True,
    progress: bool = True,
    config: SASRecConfig | None = None,
    fraction: float = 1.0,
    tune_budget: float | None = None,
) -> TrainReport:
    """Train a bundle from ``store``'s log, gate it against the published one, save it, and
    publish it if the gate passes (and ``publish``).

    Parameters
    ----------
    store : a store folder or a Redis URL (``--store``).
    max_seconds : the sequence model's training budget (the refit takes about as long again);
        ``quick``: :data:`QUICK_SECONDS` by default, early-stopped fit served without a refit.
    holdout_days : the hold-out's time window when the served bundle's cut-off leaves too few
        shoppers (:mod:`~shoprec.training.heldout`).
    tolerance : how far below the served held-out NDCG@10 a new bundle may score and still be
        published (absolute; default ``settings.promote_tolerance``).
    config : the sequence model's settings (default the Beauty-chosen :data:`BEST_CONFIG`).
    fraction : train on this share of the shoppers (1: all; the gate's test trains a worse
        bundle on a tenth). The hold-out is chosen from every shopper.
    tune_budget : seconds to choose the sequence model's settings on this store's validation
        split first (:mod:`~shoprec.training.tuning`, from ``config``); trials in the manifest.
    """
    t0 = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - t0 - sum(stages.values()), 3)

    tol = settings.promote_tolerance if tolerance is None else tolerance
    shelf = BundleShelf.for_store(store, settings)
    was_served = shelf.published()
    served, why_none = _served(shelf, was_served)
    events, items = open_stores(
        store, settings.durability, settings.redis_prefix, settings.redis_timeout_s
    )
    try:
        data = export_sequences(events, items, name="store")
        if data.n_users == 0:
            raise NothingToTrain(
                "the store holds no shopper with 3 or more item interactions: nothing to train on"
            )
        cutoff = None if served is None else served.manifest.get("cutoff_seq")
        holdout = choose_holdout(data, events, cutoff, holdout_days, settings.seed)
    finally:
        events.close()
        items.close()
    lap("export")
    train_data = data.share_of_shoppers(fraction, settings.seed)
    cfg = config or BEST_CONFIG
    tuning = None
    if tune_budget is not None:
        tuning = tune_sasrec(train_data, settings, tune_budget, base=cfg, progress=progress)
        cfg = tuning.config
        lap("tuning")
    if quick:
        cfg = replace(cfg, patience=1)
    budget = max_seconds if max_seconds is not None or not quick else QUICK_SECONDS
    # train_sasrec's own checkpoint: scratch (one per process), removed after
    work = shelf.root / f".work-{os.getpid()}"
    trained = train_sasrec(
        train_data,
        settings.model_copy(update={"artifacts_dir": work}),
        cfg,
        "sasrec",
        max_seconds=budget,
        progress=progress,
        refit=not quick,
        fitted=None if tuning is None else tuning.fit,
    )
    calib = json.loads((trained.path / "manifest.json").read_text()).get("calibration", {})
    shutil.rmtree(work, ignore_errors=True)
    lap("sequence model")
    text = text_vectors_for(data, settings, progress)
    tagger = _tagger() if text is not None else None
    if text is None:
        text = np.zeros((data.n_items + 1, 384), np.float32)
    catalog = offline_catalog(data, text, tagger)
    _, final = fit_phases(train_data, catalog, trained.valid, trained.final, seed=settings.seed)
    lap("co-visitation and ranker")
    heldout = _score(data, holdout, catalog, final.bundle, served)
    lap("hold-out")
    new_ndcg = heldout["new"]["NDCG@10"]
    served_ndcg = None if heldout["served"] is None else heldout["served"]["NDCG@10"]
    decision, reason = gate(new_ndcg, served_ndcg, tol, why_none)
    log.info("gate: %s (%s)", decision, reason)
    go = publish and decision in ("first", "promoted")
    if not publish and decision != "refused":
        decision, reason = "kept aside", f"{reason}; not published (publish off)"
    now_served = shelf.published()
    if go and now_served != was_served:
        # someone published meanwhile (by hand or another trainer): not compared with it
        go, decision = False, "kept aside"
        reason = f"{reason}; not published: {now_served} was published during the run"
    fitted = final.fitted
    fitted.manifest = _manifest(data, train_data, trained, calib, heldout)
    fitted.manifest |= {
        "config": {"sasrec": cfg.to_dict(), "quick": quick, "max_seconds": budget}
        | {"fraction": fraction},
        "gate": {"decision": decision, "tolerance": tol, "reason": reason}
        | {"served_version": None if served is None else served.version},
        "stage_seconds": stages,
    }
    if tuning is not None:
        fitted.manifest["tuning"] = tuning.to_dict()
    path = save_bundle(fitted, shelf.root)
    if go:
        shelf.publish(fitted.version, f"{decision}: {reason}")
    seconds = time.perf_counter() - t0
    log.info("bundle %s saved to %s (%s, %.0f s)", fitted.version, path, decision, seconds)
    manifest = fitted.manifest
    return TrainReport(fitted.version, path, go, decision, reason, heldout, seconds, manifest)


def _score(
    data: SequenceData,
    holdout: Holdout,
    catalog: Catalog,
    new_bundle: ModelBundle,
    served: FittedBundle | None,
) -> dict:
    """Both bundles' held-out feed figures, with the same trending (every shopper's items but
    their last: the live state, not a model) and the same catalog."""
    split = leave_one_out(data.sequences, data.timestamps)
    times = split.test_times()
    trending = trending_at(split.test_histories(), times, data.n_items + 1)
    now = max(float(t.max()) for t in times if len(t)) if times else 0.0
    hist, hist_times = holdout.histories(data)
    targets = holdout.targets(data)
    args = (hist, hist_times, targets)
    out: dict = {"rule": holdout.rule, "shoppers": len(targets)}
    out["new"] = feed_metrics(catalog, new_bundle, trending, now, *args)
    out["served"] = None
    if served is not None:
        old = feed_metrics(catalog, align(served, catalog), trending, now, *args)
        out["served"] = old | {"version": served.version}
    return out


def _manifest(
    data: SequenceData, train_data: SequenceData, trained: TrainedSASRec, calib: dict, heldout: dict
) -> dict:
    last = [float(t[-1]) for t in data.timestamps] if data.timestamps else [0.0]
    h = trained.valid.history_
    return {
        "version": new_version(),
        "created": time.time(),
        "cutoff_seq": int(str(data.extra.get("event_log_seq", 0))),
        "cutoff_time": max(last),
        "events": int(str(data.extra.get("events_read", 0))),
        "interactions": train_data.n_interactions,
        "shoppers": train_data.n_users,
        "items": data.n_items,
        "training": {
            "seconds": trained.seconds,
            "valid_NDCG@10": h.best_score,
            "best_epoch": h.best_epoch,
        },
        # the sequence model's validation curve and the (tau, beta) calibration grid
        "trials": {"valid_history": h.to_dict(), "calibration": calib},
        "heldout": heldout,
    }
