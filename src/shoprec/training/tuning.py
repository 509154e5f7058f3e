"""Per-shop tuning of the sequence model: Optuna chooses SASRec's settings on the shop's own
validation split (leave-one-out: each shopper's second-to-last item) within a time budget.

Trial 0 is the Beauty-chosen default (:data:`~shoprec.training.sasrec_job.BEST_CONFIG`), run
to its own early stop and never pruned or cut, so the chosen settings never score below the
default on validation. Later trials are pruned by Optuna's median rule through the fit's
per-validation callback, and the trial running when the budget ends is stopped by the training
loop's time limit after the epoch it is in, and kept with the best score it had reached (or
counted as pruned when it had not been validated yet). No trial starts after the budget. A
trial's value is its validation NDCG@10 with the text lift (``beta``) chosen on the same
validation; the logit adjustment is calibrated afterwards, for the chosen settings only
(:func:`~shoprec.training.sasrec_job.calibrate`)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field, replace

import numpy as np
import optuna

from shoprec.data.interactions import SequenceData, TrainData
from shoprec.data.splits import leave_one_out
from shoprec.models.sasrec import SASRecConfig
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.settings import Settings
from shoprec.training.sasrec_job import BEST_CONFIG, BETAS, _grid_ndcg10, ids_only, text_vectors_for

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Optuna's median pruner: a trial is compared with the finished ones from its 4th epoch on.
WARMUP_EPOCHS = 4


def parse_duration(text: str, option: str = "--tune-budget") -> float:
    """Seconds in ``text`` (``90s``, ``30m``, ``2h``, ``1.5h``; a bare number is seconds)."""
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ValueError(
            f"{option}: {text!r} is not a positive duration; write e.g. 90s, 30m or 2h"
        )
    return float(m.group(1)) * _UNIT[m.group(2)]


def default_params(base: SASRecConfig, text: bool, times: bool) -> dict:
    """The search space's values of ``base``: what trial 0 is enqueued with."""
    out: dict = {
        "dim": base.dim,
        "n_layers": base.n_layers,
        "n_heads": base.n_heads,
        "dropout": base.dropout,
        "n_negatives": base.n_negatives,
        "lr": base.lr,
    }
    if text:
        out |= {"use_text": base.use_text}
        if base.use_text:
            out |= {"text_dropout": base.text_dropout, "id_dropout": base.id_dropout}
    if times:
        out["time_gaps"] = base.time_gaps
    return out


def _with(values: list[int], value: int) -> list[int]:
    return sorted({*values, value})  # the base's own value is always a choice


def suggest(
    trial: optuna.Trial | optuna.trial.FixedTrial, base: SASRecConfig, text: bool, times: bool
) -> SASRecConfig:
    """One point of the search space, around ``base`` (loss, batch size, patience kept)."""
    cfg = replace(
        base,
        dim=trial.suggest_categorical("dim", _with([32, 64, 128], base.dim)),
        n_layers=trial.suggest_int("n_layers", 1, max(3, base.n_layers)),
        n_heads=trial.suggest_categorical("n_heads", _with([1, 2], base.n_heads)),
        dropout=trial.suggest_float("dropout", 0.1, 0.6, step=0.05),
        n_negatives=trial.suggest_categorical(
            "n_negatives", _with([512, 1024, 2048, 4096], base.n_negatives)
        ),
        lr=trial.suggest_float("lr", 3e-4, 3e-3, log=True),
    )
    use_text = text and trial.suggest_categorical("use_text", [True, False])
    if use_text:
        cfg = replace(
            cfg,
            use_text=True,
            text_dropout=trial.suggest_float("text_dropout", 0.0, 0.3, step=0.05),
            id_dropout=trial.suggest_float("id_dropout", 0.0, 0.5, step=0.05),
        )
    else:
        cfg = ids_only(cfg)
    if times:
        cfg = replace(cfg, time_gaps=trial.suggest_categorical("time_gaps", [True, False]))
    return cfg


@dataclass
class TuneResult:
    """What a tuning run tried and chose (``trials`` go into the bundle manifest)."""

    config: SASRecConfig
    default_value: float
    best_value: float
    best_trial: int
    budget_s: float
    seconds: float
    trials: list[dict] = field(default_factory=list)
    #: the chosen trial's early-stopped fit (train_sasrec's ``fitted``: not trained again)
    fit: SASRecRecommender | None = None

    def to_dict(self) -> dict:
        return {
            "library": f"optuna {optuna.__version__}",
            "objective": "validation NDCG@10 (leave-one-out, full ranking), text lift chosen",
            "budget_s": self.budget_s,
            "seconds": round(self.seconds, 1),
            "default_valid_NDCG@10": self.default_value,
            "best_valid_NDCG@10": self.best_value,
            "best_trial": self.best_trial,
            "chosen": self.config.to_dict(),
            "trials": self.trials,
        }


def _row(t: optuna.trial.FrozenTrial, t0: float) -> dict:
    begun, ended = t.datetime_start, t.datetime_complete
    start = None if begun is None else begun.timestamp() - t0
    secs = None if begun is None or ended is None else (ended - begun).total_seconds()
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "value": t.value,
        "params": t.params,
        "start_s": None if start is None else round(start, 3),
        "seconds": None if secs is None else round(secs, 1),
        "valid_by_epoch": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        **t.user_attrs,
    }


def tune_sasrec(
    data: SequenceData,
    settings: Settings,
    budget_s: float,
    *,
    base: SASRecConfig = BEST_CONFIG,
    text: np.ndarray | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> TuneResult:
    """Search SASRec's settings on ``data``'s validation split for ``budget_s`` seconds.

    ``text``: the item text vectors ``(n_items + 1, D)`` (default: computed, cached, as the
    training job does; none -> ids only). ``seed``: the sampler's (default ``base.seed``; every
    trial trains with ``base.seed`` so that trial 0 is exactly the default's fit)."""
    t0 = time.time()
    deadline = t0 + budget_s
    if base.use_text and text is None:
        text = text_vectors_for(data, settings, progress)
    has_text = base.use_text and text is not None
    if not has_text:
        base = ids_only(base)
    split = leave_one_out(data.sequences, data.timestamps)
    times = split.train_times()
    has_times = times is not None
    train = TrainData(
        histories=split.train,
        n_items=data.n_items,
        item_text_vectors=text if has_text else None,
        valid_targets=split.valid,
        timestamps=times,
    )
    counts = np.bincount(np.concatenate(split.train), minlength=data.n_items + 1)
    best_fit: dict = {"value": float("-inf"), "number": -1, "model": None}

    def objective(trial: optuna.Trial) -> float:
        cfg = suggest(trial, base, has_text, has_times)
        first = trial.number == 0
        step = [0]

        def report(score: float) -> None:
            step[0] += 1
            if first:
                return
            epoch = step[0] * cfg.eval_every
            trial.report(score, epoch)
            if trial.should_prune():
                trial.set_user_attr("stopped", f"pruned at epoch {epoch}")
                raise optuna.TrialPruned()

        left = None if first else max(1.0, deadline - time.time())
        model = SASRecRecommender(cfg, max_seconds=left, progress=False, on_validation=report)
        model.fit(replace(train, item_text_vectors=text if cfg.use_text else None))
        h = model.history_
        if not h.valid:  # the budget ended it before its first validation: nothing to compare
            trial.set_user_attr("stopped", "budget, before its first validation")
            trial.set_user_attr("epochs", len(h.epoch_loss))
            raise optuna.TrialPruned()
        if first:  # its curve, for the record (not reported: never pruned)
            for epoch, score in h.valid:
                trial.report(score, epoch)
        betas = BETAS if cfg.use_text else (0.0,)
        grid = _grid_ndcg10(model, split.train, split.valid, times, counts, (0.0,), betas)
        (_, beta), value = max(grid.items(), key=lambda kv: (round(kv[1], 6), -kv[0][1]))
        if value > best_fit["value"]:  # kept for train_sasrec (a small model)
            best_fit.update(value=value, number=trial.number, model=model)
        stopped = "early stop" if h.stopped_early else "epochs"
        if not first and time.time() >= deadline and not h.stopped_early:
            stopped = "budget"
        trial.set_user_attr("network_valid_NDCG@10", h.best_score)
        trial.set_user_attr("beta", beta)
        trial.set_user_attr("best_epoch", h.best_epoch)
        trial.set_user_attr("epochs", len(h.epoch_loss))
        trial.set_user_attr("stopped", stopped)
        log.info(
            "trial %d: valid NDCG@10 %.4f (network %.4f, beta %.1f), %d epochs, %s, %s",
            trial.number, value, h.best_score, beta, len(h.epoch_loss), stopped, trial.params,
        )  # fmt: skip
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=base.seed if seed is None else seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=WARMUP_EPOCHS),
    )
    study.enqueue_trial(default_params(base, has_text, has_times))
    study.optimize(objective, n_trials=1)  # the default, whatever the budget
    if time.time() < deadline:
        study.optimize(objective, timeout=max(0.0, deadline - time.time()))
    best = study.best_trial
    chosen = suggest(optuna.trial.FixedTrial(best.params), base, has_text, has_times)
    rows = [_row(t, t0) for t in study.trials]
    default = float(study.trials[0].value or 0.0)
    done = sum(r["state"] == "complete" for r in rows)
    log.info(
        "tuning: %d trials (%d complete) in %.0f s; best #%d valid NDCG@10 %.4f (default %.4f)",
        len(rows), done, time.time() - t0, best.number, best.value, default,
    )  # fmt: skip
    return TuneResult(
        config=chosen,
        default_value=default,
        best_value=float(best.value or 0.0),
        best_trial=best.number,
        budget_s=budget_s,
        seconds=time.time() - t0,
        trials=rows,
        fit=best_fit["model"] if best_fit["number"] == best.number else None,
    )
