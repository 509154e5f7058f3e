"""``shoprec train``: fit SASRec on a dataset's leave-one-out training part, early-stopped on
validation, and publish a checkpoint (safetensors + manifest.json) that evaluation reuses."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from shoprec.data.interactions import SequenceData, TrainData
from shoprec.data.splits import leave_one_out
from shoprec.models import rank_metrics as R
from shoprec.models.sasrec import SASRecConfig
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.models.scoring import add_text_lift, mask_histories
from shoprec.models.validation import score_batch
from shoprec.settings import Settings
from shoprec.training.dp import DPConfig, composed_epsilon

log = logging.getLogger(__name__)

#: The configuration chosen on Amazon Beauty validation (see the report's ablation table).
BEST_CONFIG = SASRecConfig(
    loss="sampled",
    n_negatives=4096,
    n_layers=1,
    n_heads=1,
    dropout=0.3,
    use_text=True,
    time_gaps=True,
    id_dropout=0.3,
    batch_size=128,
    eval_every=2,
    patience=3,
    num_threads=0,
)


def ids_only(config: SASRecConfig) -> SASRecConfig:
    """The same model without text vectors (the ablation, or a catalog with no text)."""
    return replace(config, use_text=False, use_id=True, id_dropout=0.0, id_min_count=0)


def data_fingerprint(data: SequenceData) -> str:
    """Hash of the sequences and item ids: a checkpoint is reused only for the same data."""
    h = hashlib.sha1()
    h.update(str(data.n_items).encode())
    for ext in data.items.to_list()[:1000]:
        h.update(ext.encode())
    for seq in data.sequences:
        h.update(np.ascontiguousarray(seq, np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()


def checkpoint_dir(settings: Settings, dataset: str, name: str) -> Path:
    slug = dataset.strip("/").replace("/", "_").replace(".", "_") or "dataset"
    return settings.artifacts_dir / slug / name


def text_vectors_for(
    data: SequenceData, settings: Settings, progress: bool = True
) -> np.ndarray | None:
    """Item text vectors ``(n_items + 1, 384)``, cached by content hash; None without text."""
    if not data.has_text():
        return None
    import torch

    from shoprec.compute import resolve
    from shoprec.text.encoder import item_text_matrix

    t0 = time.perf_counter()
    vectors = item_text_matrix(data.item_texts(), settings.text_cache, progress)
    log.info(
        "text vectors: %d items in %.1f s (%s, %d torch threads)",
        data.n_items,
        time.perf_counter() - t0,
        resolve().describe(),
        torch.get_num_threads(),
    )
    return vectors


@dataclass
class TrainedSASRec:
    """The two fits of one training run (both under ``path``).

    ``valid`` was early-stopped on the validation targets (trained on the histories before
    them); ``final`` was trained again, for the chosen number of epochs, on the histories that
    include the validation item: it is the model scored on test and served.
    """

    valid: SASRecRecommender
    final: SASRecRecommender
    path: Path
    seconds: float


#: Logit-adjustment strengths tried on validation (0 = none).
TAUS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
#: Text-lift strengths tried on validation (0 = none; scores are logits, sims cosines).
BETAS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0)


def _grid_ndcg10(
    model: SASRecRecommender,
    histories: list[np.ndarray],
    targets: np.ndarray,
    times: list[np.ndarray] | None,
    counts: np.ndarray,
    taus: tuple[float, ...],
    betas: tuple[float, ...],
    batch_size: int = 2048,
) -> dict[tuple[float, float], float]:
    """Validation NDCG@10 of every (tau, beta): the network runs once per user, the two
    post-hoc terms are added to its scores for each pair (the same sums ``score`` makes)."""
    model.set_logit_adjustment(1.0, counts)
    prior = -model.log_prior_  # type: ignore[operator]
    nbrs = model.text_table() if model.config.use_text else None
    model.set_logit_adjustment(0.0, counts)
    model.set_text_lift(0.0)
    ranks: dict[tuple[float, float], list[np.ndarray]] = {(t, b): [] for t in taus for b in betas}
    for s in range(0, len(histories), batch_size):
        hist, tgt = histories[s : s + batch_size], targets[s : s + batch_size]
        ts = None if times is None else times[s : s + batch_size]
        users = np.arange(s + 1, s + 1 + len(hist))
        base = score_batch(model, users, hist, ts)
        lift = np.zeros_like(base)
        if nbrs is not None:
            add_text_lift(lift, np.array([int(h[-1]) for h in hist]), *nbrs, 1.0)
        for (tau, beta), out in ranks.items():
            sc = base + np.float32(tau) * prior + np.float32(beta) * lift
            out.append(R.target_ranks(mask_histories(sc, hist), tgt))
    return {k: R.ndcg(np.concatenate(v), 10) for k, v in ranks.items()}


#: The calibration of a DP run: none (its item prior is raw counts, its grid reads raw data).
DP_SKIP = {"tau": 0.0, "skipped": "DP: the item prior (raw counts) is not private"}
#: The quick preset calibrates the text lift alone on this many validation users (a few
#: seconds of the demo's start-up).
QUICK_USERS = 5000


def calibrate(
    valid: SASRecRecommender,
    final: SASRecRecommender,
    data: SequenceData,
    taus: tuple[float, ...] = TAUS,
    max_users: int | None = None,
) -> dict:
    """Choose the logit adjustment ``tau`` and the text lift ``beta`` (a model with text
    vectors) jointly on validation NDCG@10 (overall, not any slice) and set them on both fits,
    each ``tau`` with the item prior of its own training data. ``max_users``: score an evenly
    spread subset of that many validation users (the quick preset)."""
    split = leave_one_out(data.sequences, data.timestamps)
    n = data.n_items + 1
    c_valid = np.bincount(np.concatenate(split.train), minlength=n)
    c_final = np.bincount(np.concatenate(split.test_histories()), minlength=n)
    betas = BETAS if valid.config.use_text else (0.0,)
    hist, targets, times = split.train, split.valid, split.train_times()
    if max_users is not None and len(hist) > max_users:
        pick = np.linspace(0, len(hist) - 1, max_users).astype(np.int64)
        hist, targets = [hist[i] for i in pick], targets[pick]
        times = None if times is None else [times[i] for i in pick]
    grid = _grid_ndcg10(valid, hist, targets, times, c_valid, taus, betas)
    for (tau, beta), v in grid.items():
        log.info("tau=%.2f beta=%.1f: valid NDCG@10 %.4f", tau, beta, v)
    tau, beta = max(grid, key=lambda k: (round(grid[k], 6), -k[0], -k[1]))
    for model, counts in ((valid, c_valid), (final, c_final)):
        model.set_logit_adjustment(tau, counts)
        model.set_text_lift(beta)
    return {
        "tau": tau,
        "beta": beta,
        "valid_NDCG@10": {f"tau={t},beta={b}": v for (t, b), v in grid.items()},
    }


def calibrate_quick(valid: SASRecRecommender, final: SASRecRecommender, data: SequenceData) -> dict:
    """The quick preset's calibration: the text lift alone (no logit adjustment), on
    :data:`QUICK_USERS` validation users."""
    return calibrate(valid, final, data, taus=(0.0,), max_users=QUICK_USERS) | {"quick": True}


def _save_calibration(
    path: Path, valid: SASRecRecommender, final: SASRecRecommender, calib: dict
) -> None:
    for model, where in ((final, path), (valid, path / "valid")):
        manifest = json.loads((where / "manifest.json").read_text())
        model.save(
            where,
            extra={
                k: v
                for k, v in manifest.items()
                if k
                not in {
                    "model",
                    "format_version",
                    "config",
                    "n_items",
                    "history",
                    "logit_adjustment",
                    "text_lift",
                }
            }
            | {"calibration": calib},
        )


def find_checkpoint(path: Path, data: SequenceData, config: SASRecConfig) -> TrainedSASRec | None:
    """A saved training run for exactly this data and config, or None."""
    manifest = path / "manifest.json"
    if not manifest.is_file() or not (path / "valid" / "manifest.json").is_file():
        return None
    meta = json.loads(manifest.read_text())
    if (
        meta.get("data_fingerprint") != data_fingerprint(data)
        or meta.get("search_config") != config.to_dict()
    ):
        log.info("checkpoint at %s is stale (data or config changed)", path)
        return None
    final = SASRecRecommender.load(path)
    valid = SASRecRecommender.load(path / "valid")
    calib = meta.get("calibration") or {}
    if "beta" not in calib and "DP" not in calib.get("skipped", ""):  # from before (tau, beta)
        quick = "quick" in calib.get("skipped", "")
        calib = calibrate_quick(valid, final, data) if quick else calibrate(valid, final, data)
        _save_calibration(path, valid, final, calib)
    return TrainedSASRec(valid=valid, final=final, path=path, seconds=meta.get("train_seconds", 0))


def train_sasrec(
    data: SequenceData,
    settings: Settings,
    config: SASRecConfig = BEST_CONFIG,
    name: str = "sasrec",
    max_seconds: float | None = None,
    progress: bool = True,
    refit: bool = True,
    dp: DPConfig | None = None,
    fitted: SASRecRecommender | None = None,
) -> TrainedSASRec:
    """Fit with validation early stopping, then refit for the best epoch count on the
    histories including the validation item; save both and return them.

    ``refit=False`` (the demo's quick preset) serves the early-stopped fit itself and chooses
    only the text lift, on a subset of validation users (:func:`calibrate_quick`): one training
    pass instead of two, ready minutes sooner, at the cost of the last item per user not being
    learned and no logit adjustment.

    ``dp`` trains both fits with differential privacy (:mod:`shoprec.training.dp`); the
    manifest gets the epsilon of the two composed, and the logit adjustment is skipped (its
    item prior is raw interaction counts, not private).

    ``fitted``: the early-stopped fit of ``config`` on this data, already made (the tuner's
    chosen trial): used as the valid fit instead of training it again."""
    search_config = config
    if config.use_text:
        text = text_vectors_for(data, settings, progress)
        if text is None:
            log.warning("dataset has no item text: training SASRec on ids only")
            config = ids_only(config)
    else:
        text = None
    split = leave_one_out(data.sequences, data.timestamps)
    t0 = time.perf_counter()
    valid = fitted
    if valid is None:
        valid = SASRecRecommender(config, max_seconds=max_seconds, progress=progress, dp=dp)
        valid.fit(
            TrainData(
                histories=split.train,
                n_items=data.n_items,
                item_text_vectors=text,
                valid_targets=split.valid,
                timestamps=split.train_times(),
            )
        )
    if refit:
        epochs = max(1, valid.history_.best_epoch)
        final = SASRecRecommender(replace(config, epochs=epochs), progress=progress, dp=dp).fit(
            TrainData(
                histories=split.test_histories(),
                n_items=data.n_items,
                item_text_vectors=text,
                timestamps=split.test_times(),
            )
        )
        calib = calibrate(valid, final, data) if dp is None else dict(DP_SKIP)
    else:
        final = valid
        calib = calibrate_quick(valid, valid, data) if dp is None else dict(DP_SKIP)
    seconds = time.perf_counter() - t0
    path = checkpoint_dir(settings, data.name, name)
    common = {
        "dataset": data.name,
        "data_fingerprint": data_fingerprint(data),
        "search_config": search_config.to_dict(),
        "item_ids": data.items.to_list(),
        "metrics": {"valid_NDCG@10": valid.history_.best_score},
        "calibration": calib,
    }
    if dp is not None:
        runs = [r for r in {id(m): m.privacy_ for m in (valid, final)}.values() if r]
        common["privacy"] = {
            "epsilon": composed_epsilon(runs, dp.delta),
            "delta": dp.delta,
            "runs": [r.to_dict() for r in runs],
        }
    valid.save(path / "valid", extra={**common, "data_cutoff": "all but the last two items"})
    final.save(
        path,
        extra={
            **common,
            "data_cutoff": "all but the last item of every user (the test target)"
            if refit
            else "all but the last two items (quick preset: the early-stopped fit, not refit)",
            "train_seconds": seconds,
            "valid_history": valid.history_.to_dict(),
        },
    )
    log.info("saved %s to %s (%.0f s)", name, path, seconds)
    return TrainedSASRec(valid=valid, final=final, path=path, seconds=seconds)
