"""Tune the classic models on validation, then measure test (docs/benchmarks.md, offline
protocol).

For every model: each grid point (``shoprec.models.registry``) is fitted on the training
histories and ranked on the validation targets (full ranking, history masked); the point with the
best validation NDCG@10 is refitted on the test-time histories (training + validation item) and
ranked on the test targets with :func:`rank_phase`. The figures of the chosen point are HR/NDCG
at 5, 10, 20; the seconds count fitting and ranking. Prints one table; ``--json`` also writes
every trial.

    SHOPREC_DATA_DIR=/path/to/data .venv/bin/python bench/tune_classic.py
    .venv/bin/python bench/tune_classic.py --models itemknn --json /tmp/knn.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from shoprec.data.datasets import load_dataset
from shoprec.data.interactions import TrainData
from shoprec.data.splits import LeaveOneOut, leave_one_out
from shoprec.evaluation.protocol import rank_phase, ranking_metrics, sample_negatives
from shoprec.models import rank_metrics as R
from shoprec.models.base import Recommender
from shoprec.models.registry import MODELS, ModelSpec
from shoprec.models.scoring import mask_histories

log = logging.getLogger("tune_classic")
SELECT_BY = "NDCG@10"


@dataclass
class Outcome:
    """One model's tuning result."""

    name: str
    params: dict
    valid: dict[str, float]
    test: dict[str, float]
    tune_s: float
    test_s: float
    trials: list[dict] = field(default_factory=list)


def target_ranks(
    model: Recommender,
    users: np.ndarray,
    histories: list[np.ndarray],
    targets: np.ndarray,
    batch_size: int = 1024,
) -> np.ndarray:
    """The ranks :func:`rank_phase` computes (history masked, full catalog), without its top-10
    lists and click view: about 4x cheaper, for the grid search."""
    ranks = []
    for start in range(0, len(users), batch_size):
        sl = slice(start, start + batch_size)
        scores = model.score(users[sl], histories[sl]).astype(np.float32, copy=False)
        mask_histories(scores, histories[sl])
        ranks.append(R.target_ranks(scores, targets[sl]))
    return np.concatenate(ranks)


def tune(spec: ModelSpec, split: LeaveOneOut, n_items: int, seed: int) -> Outcome:
    """Grid search on validation, then one test run with the winner."""
    t0 = time.perf_counter()
    trials = []
    for point in spec.grid:
        t = time.perf_counter()
        model = spec.build(point).fit(TrainData(histories=split.train, n_items=n_items))
        metrics = ranking_metrics(target_ranks(model, split.users, split.train, split.valid))
        trials.append({"params": point, "valid": metrics, "seconds": time.perf_counter() - t})
        log.info(
            "%s %s valid NDCG@10 %.4f HR@10 %.4f (%.1fs)",
            spec.name,
            point,
            metrics["NDCG@10"],
            metrics["HR@10"],
            trials[-1]["seconds"],
        )
    tune_s = time.perf_counter() - t0
    best = max(trials, key=lambda tr: tr["valid"][SELECT_BY])
    test_hist = split.test_histories()
    test_neg = sample_negatives(test_hist, split.test, n_items, seed)
    t1 = time.perf_counter()
    model = spec.build(best["params"]).fit(TrainData(histories=test_hist, n_items=n_items))
    phase = rank_phase(model, split.users, test_hist, split.test, test_neg)
    test = ranking_metrics(phase.ranks)
    return Outcome(
        name=spec.name,
        params={**spec.default, **best["params"]},
        valid=best["valid"],
        test=test,
        tune_s=tune_s,
        test_s=time.perf_counter() - t1,
        trials=trials,
    )


def table(outcomes: list[Outcome]) -> str:
    """Markdown table of the chosen points."""
    head = (
        "| model | valid HR@10 | valid NDCG@10 | test HR@10 | test NDCG@10 | test HR@20 "
        "| test NDCG@20 | grid | tune s | chosen params |"
    )
    lines = [head, "|" + "---|" * 10]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {o.valid['HR@10']:.4f} | {o.valid['NDCG@10']:.4f} "
            f"| {o.test['HR@10']:.4f} | {o.test['NDCG@10']:.4f} | {o.test['HR@20']:.4f} "
            f"| {o.test['NDCG@20']:.4f} | {len(o.trials)} | {o.tune_s:.1f} | {o.params} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--models", nargs="+", default=["pop", "itemknn", "als", "bpr"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the click-view negatives")
    parser.add_argument("--json", help="write every trial and the chosen points here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    unknown = set(args.models) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; registered: {sorted(MODELS)}")
    data = load_dataset(args.dataset)
    split = leave_one_out(data.sequences)
    log.info("%s: %d users, %d items", args.dataset, len(split.users), data.n_items)

    t0 = time.perf_counter()
    outcomes = [tune(MODELS[name], split, data.n_items, args.seed) for name in args.models]
    total = time.perf_counter() - t0
    print(table(outcomes))
    print(
        f"tuning (all grids, validation only): {sum(o.tune_s for o in outcomes):.1f} s; "
        f"with test runs: {total:.1f} s"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump([o.__dict__ for o in outcomes], f, indent=2)


if __name__ == "__main__":
    main()
