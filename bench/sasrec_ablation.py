"""One SASRec ablation point on Amazon Beauty: train with validation early stopping, score
test without refit, then refit on train+valid for the chosen epochs and score test again.

    .venv/bin/python bench/sasrec_ablation.py '{"n_negatives": 1024, "time_gaps": true}'

The JSON overrides fields of ``BEST_CONFIG``; ``budget`` (seconds) caps the first fit.
Figures of the runs behind the chosen configuration are in ``bench/results/sasrec_ablation.md``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import replace

import numpy as np

from shoprec.data.datasets import load_dataset
from shoprec.data.interactions import TrainData
from shoprec.data.splits import leave_one_out
from shoprec.evaluation.protocol import rank_phase, ranking_metrics, sample_negatives
from shoprec.evaluation.runner import COLD_MAX_COUNT
from shoprec.models import rank_metrics as R
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.settings import Settings
from shoprec.training.sasrec_job import BEST_CONFIG, text_vectors_for


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    overrides = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    budget = overrides.pop("budget", 1500)
    cfg = replace(BEST_CONFIG, **overrides)
    settings = Settings()
    data = load_dataset("amazon-beauty", settings)
    split = leave_one_out(data.sequences, data.timestamps)
    text = text_vectors_for(data, settings, progress=False) if cfg.use_text else None
    t0 = time.perf_counter()
    model = SASRecRecommender(cfg, max_seconds=budget, progress=False).fit(
        TrainData(
            split.train,
            data.n_items,
            item_text_vectors=text,
            valid_targets=split.valid,
            timestamps=split.train_times(),
        )
    )
    hist = model.history_.to_dict()
    # the cold slice on validation (for choosing) and on test: targets seen <= 5 times before
    train_counts = np.bincount(np.concatenate(split.train), minlength=data.n_items + 1)
    vneg = sample_negatives(split.train, split.valid, data.n_items, 1)
    on_valid = rank_phase(
        model, split.users, split.train, split.valid, vneg, timestamps=split.train_times()
    )
    valid_cold = train_counts[split.valid] <= COLD_MAX_COUNT
    th = split.test_histories()
    test_counts = np.bincount(np.concatenate(th), minlength=data.n_items + 1)
    test_cold = test_counts[split.test] <= COLD_MAX_COUNT
    neg = sample_negatives(th, split.test, data.n_items, 0)
    no_refit = rank_phase(model, split.users, th, split.test, neg, timestamps=split.test_times())
    refit = SASRecRecommender(replace(cfg, epochs=max(1, hist["best_epoch"])), progress=False).fit(
        TrainData(th, data.n_items, item_text_vectors=text, timestamps=split.test_times())
    )
    with_refit = rank_phase(refit, split.users, th, split.test, neg, timestamps=split.test_times())
    print(
        json.dumps(
            {
                "overrides": overrides,
                "valid_NDCG@10": hist["best_valid_ndcg10"],
                "best_epoch": hist["best_epoch"],
                "seconds_per_epoch": hist["seconds_per_epoch"],
                "total_seconds": time.perf_counter() - t0,
                "test_no_refit": ranking_metrics(no_refit.ranks),
                "test_refit": ranking_metrics(with_refit.ranks),
                "valid_cold_NDCG@10": R.ndcg(on_valid.ranks[valid_cold], 10),
                "test_cold_NDCG@10": R.ndcg(with_refit.ranks[test_cold], 10),
                "cold_users": [int(valid_cold.sum()), int(test_cold.sum())],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
