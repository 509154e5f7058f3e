"""The offline runner: split, tune on validation, score on test, collect every figure.

Protocol (docs/benchmarks.md, offline protocol): leave-one-out in sequence order, full ranking
over the catalog, the user's earlier items masked. Each model is fitted on the training
histories and tuned on the validation targets; with the chosen parameters it is then fitted
again on the histories a user has at test time (training + validation item) and scored on the
test targets. Models that early-stop (``sasrec``) arrive as two fits of one training run:
early-stopped on validation, then refitted for the chosen epoch count on the test-time
histories. No test target is ever trained on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.progress import Progress

from shoprec.data.interactions import SequenceData, TrainData
from shoprec.data.splits import LeaveOneOut, leave_one_out
from shoprec.evaluation import metrics as M
from shoprec.evaluation.protocol import PhaseResult, rank_phase, ranking_metrics, sample_negatives
from shoprec.models import rank_metrics as R
from shoprec.models.base import Recommender

log = logging.getLogger(__name__)

COLD_MAX_COUNT = 5  # "cold" test items: at most this many interactions in the training data


@dataclass
class ModelRun:
    """How to obtain one model for the runner: a name, a grid and a builder."""

    name: str
    build: Callable[[dict[str, Any]], Recommender]
    grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    refit_for_test: bool = True
    needs_text: bool = False
    label: str = ""
    #: fitted (validation-phase, test-phase) models from a training run; skips tuning
    prefit: tuple[Recommender, Recommender] | None = None
    prefit_seconds: float = 0.0
    #: fit on every interaction, test targets included (the pop-all protocol check)
    leak_all: bool = False


@dataclass
class Context:
    """The split and everything derived from it once per run."""

    data: SequenceData
    split: LeaveOneOut
    text_vectors: np.ndarray | None
    valid_neg: np.ndarray
    test_neg: np.ndarray
    seed: int

    @classmethod
    def build(cls, data: SequenceData, text_vectors: np.ndarray | None, seed: int = 0) -> Context:
        split = leave_one_out(data.sequences, data.timestamps)
        return cls(
            data=data,
            split=split,
            text_vectors=text_vectors,
            valid_neg=sample_negatives(split.train, split.valid, data.n_items, seed),
            test_neg=sample_negatives(split.test_histories(), split.test, data.n_items, seed + 1),
            seed=seed,
        )

    def train_data(self, phase: str) -> TrainData:
        s = self.split
        times = s.train_times() if phase == "valid" else s.test_times()
        if phase == "valid":
            hist, valid = s.train, s.valid
        elif phase == "test":
            hist, valid = s.test_histories(), None
        else:  # "all": the protocol check's leak
            pairs = zip(s.test_histories(), s.test, strict=True)
            hist, valid = [np.append(h, t) for h, t in pairs], None
            times = s.times
        return TrainData(
            histories=hist,
            n_items=self.data.n_items,
            item_texts=None,
            item_text_vectors=self.text_vectors,
            valid_targets=valid,
            timestamps=times,
        )


def _rank(
    ctx: Context, model: Recommender, phase: str, progress: Progress | None, desc: str
) -> PhaseResult:
    s = ctx.split
    hist = s.train if phase == "valid" else s.test_histories()
    targets = s.valid if phase == "valid" else s.test
    neg = ctx.valid_neg if phase == "valid" else ctx.test_neg
    task = progress.add_task(desc, total=len(s.users)) if progress else None

    def tick(done: int) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=done)

    times = s.train_times() if phase == "valid" else s.test_times()
    res = rank_phase(model, s.users, hist, targets, neg, progress=tick, timestamps=times)
    if progress is not None and task is not None:
        progress.remove_task(task)
    return res


def evaluate_model(ctx: Context, run: ModelRun, progress: Progress | None = None) -> dict[str, Any]:
    """Tune ``run`` on validation, then score the chosen setting on test. Returns the
    ``results.json`` entry of the model, with the per-user outcomes under ``"_test"``."""
    grid_rows: list[dict[str, Any]] = []
    fit_seconds = 0.0
    valid_history = None
    if run.prefit is not None:
        best_params: dict[str, Any] = {}
        history = None
        valid_model, model = run.prefit
        fit_seconds = run.prefit_seconds
        valid_res = _rank(ctx, valid_model, "valid", progress, f"{run.name} valid")
        history = getattr(valid_model, "history_", None)
    else:
        best = None
        for params in run.grid:
            t0 = time.perf_counter()
            model = run.build(params).fit(ctx.train_data("all" if run.leak_all else "valid"))
            fit_seconds = time.perf_counter() - t0
            res = _rank(ctx, model, "valid", progress, f"{run.name} valid {params}")
            score = R.ndcg(res.ranks, 10)
            grid_rows.append({"params": params, "valid_NDCG@10": score, "fit_seconds": fit_seconds})
            log.info("%s %s valid NDCG@10 %.4f", run.name, params, score)
            if best is None or score > best[0]:
                best = (score, params, model, res, fit_seconds)
        assert best is not None
        _, best_params, model, valid_res, fit_seconds = best
        if run.refit_for_test and not run.leak_all:
            t0 = time.perf_counter()
            refit_params = dict(best_params)
            trained = getattr(model, "history_", None)
            if trained is not None and getattr(trained, "best_epoch", 0) > 0:
                # early-stopped models refit for the epoch count validation chose
                refit_params["epochs"] = trained.best_epoch
                valid_history = trained
            model = run.build(refit_params).fit(ctx.train_data("test"))
            fit_seconds = time.perf_counter() - t0
    test_res = _rank(ctx, model, "test", progress, f"{run.name} test")
    entry: dict[str, Any] = {
        "label": run.label or run.name,
        "params": best_params,
        "grid": grid_rows,
        "valid": {**ranking_metrics(valid_res.ranks)},
        "test": {**ranking_metrics(test_res.ranks), **beyond_accuracy(ctx, test_res, valid_res)},
        "fit_seconds": fit_seconds,
    }
    if run.prefit is None:
        history = valid_history
    if history is not None and hasattr(history, "to_dict"):
        entry["training"] = history.to_dict()
    entry["_test"] = test_res
    entry["_model"] = model
    return entry


def beyond_accuracy(ctx: Context, test: PhaseResult, valid: PhaseResult) -> dict[str, float]:
    """Coverage, diversity, novelty, the cold-start slice and the click-prediction view."""
    data, s = ctx.data, ctx.split
    counts = np.bincount(np.concatenate(s.test_histories()), minlength=data.n_items + 1)
    out = {
        "coverage@10": M.catalog_coverage(test.top10, data.n_items),
        "novelty@10": M.novelty(test.top10, counts, len(s.users)),
    }
    if ctx.text_vectors is not None:
        out["ILD@10"] = M.intra_list_diversity(test.top10, ctx.text_vectors)
    cold = counts[s.test] <= COLD_MAX_COUNT
    out["cold_users"] = float(cold.sum())
    out["cold_NDCG@10"] = R.ndcg(test.ranks[cold], 10)
    out["cold_HR@10"] = R.hit_rate(test.ranks[cold], 10)
    # click view: threshold picked on validation (true item vs a random untouched one)
    y_valid = np.r_[np.ones(len(valid.pos_scores)), np.zeros(len(valid.neg_scores))]
    threshold = M.best_threshold(y_valid, np.r_[valid.pos_scores, valid.neg_scores])
    y_test = np.r_[np.ones(len(test.pos_scores)), np.zeros(len(test.neg_scores))]
    clicks = M.binary_classification(y_test, np.r_[test.pos_scores, test.neg_scores], threshold)
    out.update({f"click_{k}": v for k, v in clicks.items()})
    out["click_threshold"] = threshold
    return out


def run_all(ctx: Context, runs: list[ModelRun], progress: bool = True) -> dict[str, dict[str, Any]]:
    """Evaluate every run; returns ``{name: entry}`` (entries keep private ``_`` keys)."""
    results: dict[str, dict[str, Any]] = {}
    with Progress(disable=not progress, transient=True) as bar:
        for run in runs:
            log.info("evaluating %s", run.name)
            results[run.name] = evaluate_model(ctx, run, bar)
    return results
