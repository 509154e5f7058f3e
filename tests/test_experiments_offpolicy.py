"""Off-policy estimation (IPS over a uniformly drawn weight grid), the simulator's exact
expectations, and the ``shoprec experiments tune`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shoprec.cli import app
from shoprec.experiments.offpolicy import (
    Logged,
    Objective,
    diversity,
    estimate,
    ips_terms,
    read_log,
    weight_grid,
    write_log,
)
from shoprec.experiments.simulator import BeautyShoppers
from shoprec.ranking.strategy import Strategy

GRID = weight_grid(Strategy())
ONLY_CLICKS = Objective(clicks=1.0, purchases=0.0, diversity=0.0)


def synthetic_log(n: int, seed: int) -> tuple[list[Logged], np.ndarray]:
    """Contexts where settings show one of three lists (some settings share a list), each
    list with a known click rate; logging draws a setting uniformly. Returns the records and
    each setting's true value."""
    rng = np.random.default_rng(seed)
    k = len(GRID)
    rate = {"A": 0.2, "B": 0.5, "C": 0.9}
    truth = np.zeros(k)
    records = []
    for _ in range(n):
        names = rng.choice(list(rate), size=k, p=[0.5, 0.3, 0.2])
        lists = [[f"{x}1", f"{x}2"] for x in names]
        truth += [rate[x] for x in names]
        g = int(rng.integers(k))
        clicks = int(rng.random() < rate[names[g]])
        records.append(Logged(lists, g, clicks, 0, [0.0] * k))
    return records, truth / n


def test_ips_weights_are_inverse_shares_of_identical_lists() -> None:
    same = [["a"], ["a"], ["b"], ["a"], ["c"], ["c"]]
    rec = Logged(same, served=1, clicks=1, purchases=0, diversity=[0.0] * 6)
    terms = ips_terms([rec], ONLY_CLICKS)[0]
    # three of six settings show ["a"]: each of them gets reward / (3 / 6)
    assert terms.tolist() == [2.0, 2.0, 0.0, 2.0, 0.0, 0.0]
    # diversity is known for every setting's list: added as is, not weighted
    rec.diversity = [0.5, 0.5, 0.1, 0.5, 0.9, 0.9]
    terms = ips_terms([rec], Objective(clicks=1.0, purchases=0.0, diversity=2.0))[0]
    assert terms.tolist() == pytest.approx([3.0, 3.0, 0.2, 3.0, 1.8, 1.8])


def test_ips_is_unbiased_and_its_interval_covers() -> None:
    covered, errors = 0, []
    for seed in range(20):
        records, truth = synthetic_log(800, seed)
        rows = estimate(GRID, records, ONLY_CLICKS)
        for g, row in enumerate(rows):
            covered += row["low"] <= truth[g] <= row["high"]
            errors.append(row["value"] - truth[g])
    assert covered / (20 * len(GRID)) >= 0.88  # nominal 0.95
    assert abs(np.mean(errors)) < 0.01  # unbiased: mean error of 120 estimates


def test_log_round_trip_and_paired_gain(tmp_path: Path) -> None:
    records, _ = synthetic_log(300, 1)
    write_log(tmp_path / "log.jsonl", GRID, records)
    grid, back = read_log(tmp_path / "log.jsonl")
    assert grid == GRID and back == records
    rows = estimate(grid, back, ONLY_CLICKS, current=2)
    assert rows[2]["gain"] == 0.0
    assert rows[0]["gain"] == pytest.approx(rows[0]["value"] - rows[2]["value"])


def test_simulator_expectation_matches_its_random_reactions() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8))
    vectors[5] = vectors[3] + 0.3 * rng.normal(size=8)  # an item text-similar to the target
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = BeautyShoppers(["u"], np.array([3]), vectors)
    shown = np.array([7, 5, 3, 9, 11])
    rel = sim.relevance(0, shown)
    assert rel[2] == 1.0 and 0 < rel[1] < sim.model.similar_weight + 1e-9 and rel[0] == 0
    want = sim.expected(0, shown)
    draws = [sim.respond(0, shown, rng) for _ in range(40_000)]
    assert np.mean([len(d.clicks) for d in draws]) == pytest.approx(want["clicks"], rel=0.03)
    assert np.mean([len(d.purchases) for d in draws]) == pytest.approx(want["purchases"], rel=0.05)
    assert np.mean([bool(d.purchases) for d in draws]) == pytest.approx(
        want["conversion"], rel=0.05
    )
    assert diversity(vectors, np.array([3, 3])) == pytest.approx(0.0, abs=1e-9)


def test_tune_command_reports_gain_with_interval(tmp_path: Path) -> None:
    records, truth = synthetic_log(2000, 3)
    log = tmp_path / "log.jsonl"
    write_log(log, GRID, records)
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["experiments", "tune", "--log", str(log), "--purchases", "0", "--diversity", "0"],
    )
    assert res.exit_code == 0, res.output
    for g in GRID:
        assert g.name in res.output
    missing = runner.invoke(app, ["experiments", "tune", "--log", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "--log" in missing.output
    bad = runner.invoke(app, ["experiments", "tune", "--log", str(log), "--current", "x"])
    assert bad.exit_code == 2 and "--current" in bad.output
