"""Per-shop tuning of the sequence model (issue 21): Optuna within a budget, trial 0 the default,
never below it on validation, the trials in the bundle manifest, a bad budget refused."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from shoprec.settings import Settings
from shoprec.training.sasrec_job import BEST_CONFIG
from shoprec.training.tuning import default_params, parse_duration, tune_sasrec

#: Small enough that the default trial takes about a second on one thread.
BASE = replace(
    BEST_CONFIG, max_len=20, dim=32, n_negatives=64, epochs=6, eval_every=1, patience=2,
    num_threads=1,
)  # fmt: skip


TINY = replace(BASE, dropout=0.2, batch_size=64, id_dropout=0.0)


def test_parse_duration() -> None:
    assert parse_duration("30m") == 1800 and parse_duration("2h") == 7200
    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration("45") == 45
    for bad in ("", "abc", "0m", "-5m", "30 minutes", "5d"):
        with pytest.raises(ValueError, match="--tune-budget"):
            parse_duration(bad)


def test_tuning_keeps_to_its_budget_from_the_default() -> None:
    from shoprec.data.synthetic import generate

    data = generate(n_users=150, n_items=60, seed=1).to_sequence_data()
    text = np.random.default_rng(0).normal(size=(data.n_items + 1, 16)).astype(np.float32)
    text[0] = 0
    budget = 4.0
    t0 = time.perf_counter()
    res = tune_sasrec(data, Settings(), budget, base=BASE, text=text, seed=0)
    took = time.perf_counter() - t0
    first = res.trials[0]
    # trial 0 (the default) runs to its end whatever the budget; after it, no trial starts
    # past the budget, and the one running at it stops after the epoch it is in
    first_end = first["start_s"] + first["seconds"]
    assert took <= max(budget, first_end) + 2.0, (took, res.trials)
    # Optuna checks the clock before it creates a trial; the trial's recorded start comes a few
    # milliseconds after that check, so one begun at the budget's edge may read just past it
    assert all(r["start_s"] < budget + 0.05 for r in res.trials[1:]), res.trials
    if first_end < budget - 1.0:  # (a loaded machine may spend the budget on trial 0)
        assert len(res.trials) >= 2, res.trials
    assert first["params"] == default_params(BASE, True, True) and first["state"] == "complete"
    assert res.default_value == first["value"]
    assert res.best_value >= res.default_value
    best = res.trials[res.best_trial]
    assert best["value"] == res.best_value
    assert res.config.dim == best["params"]["dim"] and res.config.lr == best["params"]["lr"]
    assert res.config.epochs == BASE.epochs and res.config.seed == BASE.seed
    assert {r["state"] for r in res.trials} <= {"complete", "pruned"}
    # the chosen trial's fit is handed on (train_sasrec does not train it again)
    assert res.fit is not None and res.fit.config == res.config
    assert res.fit.history_.best_score == best["network_valid_NDCG@10"]


def test_the_bundle_manifest_records_the_trials(tmp_path: Path) -> None:
    from conftest import make_settings
    from shoprec.data.synthetic import generate
    from shoprec.store import open_embedded
    from shoprec.training.bundle_job import train_bundle

    shop = generate(n_users=300, n_items=120, seed=0)
    keep = {u.user_id for u in shop.users[:40]}
    store = tmp_path / "shop"
    log, catalog = open_embedded(store)
    try:
        catalog.upsert(shop.catalog, 0.0)
        log.append([e for e in shop.events if e.user_id in keep])
    finally:
        log.close()
        catalog.close()
    # the synthetic titles' text vectors are cached with the other tests'
    settings = Settings(artifacts_dir=tmp_path / "art", text_cache=make_settings().text_cache)
    report = train_bundle(store, settings, config=TINY, progress=False, tune_budget=2.0)
    m = json.loads((report.path / "manifest.json").read_text())
    t = m["tuning"]
    assert t["budget_s"] == 2.0 and t["trials"][0]["number"] == 0
    assert t["trials"][0]["params"]["dim"] == TINY.dim
    assert t["best_valid_NDCG@10"] >= t["default_valid_NDCG@10"]
    assert m["config"]["sasrec"] == t["chosen"]  # what was trained is what tuning chose
    assert "tuning" in m["stage_seconds"]


@pytest.mark.parametrize("where", [["--dataset", "synthetic"], ["--store", "unused"]])
def test_a_bad_budget_is_refused_by_name(where: list[str]) -> None:
    from typer.testing import CliRunner

    from shoprec.cli import app

    out = CliRunner().invoke(app, ["train", *where, "--tune-budget", "soon"])
    assert out.exit_code == 2, out.output
    assert "--tune-budget" in out.output and "30m" in out.output
