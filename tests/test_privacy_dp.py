"""Differentially private SASRec training (Opacus): it trains, reports a finite epsilon for
the given delta that grows with less noise and more steps, and leaves an ordinary model."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from shoprec.data.interactions import TrainData
from shoprec.models.sasrec import SASRec, SASRecConfig
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.training.dp import DPConfig

CFG = SASRecConfig(
    dim=16,
    n_layers=1,
    n_heads=1,
    max_len=10,
    batch_size=32,
    epochs=2,
    eval_every=1,
    patience=5,
    use_text=True,
    time_gaps=True,
    id_dropout=0.3,
    num_threads=1,
    seed=3,
)


def tiny(n_users: int = 200, n_items: int = 40) -> TrainData:
    """Users walk the catalog in steps of +1 (mod n): a pattern a model can learn."""
    rng = np.random.default_rng(0)
    histories, times = [], []
    for _ in range(n_users):
        start, n = rng.integers(1, n_items + 1), rng.integers(4, 12)
        histories.append(((start - 1 + np.arange(n)) % n_items + 1).astype(np.int64))
        times.append(1.7e9 + 3600.0 * np.arange(n))
    text = rng.normal(size=(n_items + 1, 8)).astype(np.float32)
    text[0] = 0
    return TrainData(histories, n_items, item_text_vectors=text, timestamps=times)


def fit(data: TrainData, dp: DPConfig, cfg: SASRecConfig = CFG) -> SASRecRecommender:
    return SASRecRecommender(cfg, progress=False, dp=dp).fit(data)


def test_dp_training_runs_and_reports_epsilon(tmp_path: Path) -> None:
    data = tiny()
    dp = DPConfig(noise_multiplier=1.0, max_grad_norm=1.0, delta=1e-3, n_negatives=16)
    rec = fit(data, dp)
    p = rec.privacy_
    assert p is not None and math.isfinite(p.epsilon) and p.epsilon > 0
    assert p.delta == 1e-3 and p.users == 200 and p.sample_rate == pytest.approx(32 / 200)
    assert p.steps >= 2 * round(200 / 32) - 1  # two epochs of Poisson draws
    # the model trained (weights moved from the same seed's init) and scores like any other
    torch.manual_seed(CFG.seed)
    init = SASRec(CFG, data.n_items, torch.from_numpy(data.item_text_vectors)).eval()
    with torch.inference_mode():
        assert not torch.allclose(init.item_matrix(), rec.model_.item_matrix(), atol=1e-4)
    scores = rec.score(np.arange(1, 6), [h[:-1] for h in data.histories[:5]], None)
    assert np.isfinite(scores[:, 1:]).all()  # column 0 is padding
    # Opacus' hooks are gone: the saved model is an ordinary one, with its privacy record
    assert not any(m._forward_hooks or m._backward_hooks for m in rec.model_.modules())
    rec.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["privacy"]["epsilon"] == pytest.approx(p.epsilon)
    again = SASRecRecommender.load(tmp_path / "m")
    assert np.allclose(again.items_, rec.items_, atol=1e-6)


def test_epsilon_grows_with_less_noise_and_more_epochs() -> None:
    data = tiny(100)
    eps = {}
    for noise, epochs in ((2.0, 1), (0.8, 1), (0.8, 3)):
        dp = DPConfig(noise_multiplier=noise, delta=1e-3, n_negatives=8)
        eps[noise, epochs] = fit(data, dp, replace(CFG, epochs=epochs)).privacy_.epsilon
    assert eps[2.0, 1] < eps[0.8, 1] < eps[0.8, 3]


def test_a_users_loss_reads_only_their_own_row() -> None:
    """The premise of per-user DP: changing one user's data changes no other user's loss."""
    data = tiny(4)
    torch.manual_seed(0)
    model = SASRec(CFG, data.n_items, torch.from_numpy(data.item_text_vectors)).eval()
    seq = torch.tensor([[0, 3, 4, 5], [7, 8, 9, 10]])
    tgt = torch.tensor([[0, 4, 5, 6], [8, 9, 10, 11]])
    neg = torch.tensor([[1, 2, 30], [12, 13, 14]])
    gaps = torch.ones_like(seq)
    base = model.loss_per_user(seq, tgt, neg, gaps)
    seq2, neg2 = seq.clone(), neg.clone()
    seq2[1], neg2[1] = torch.tensor([20, 21, 22, 23]), torch.tensor([31, 32, 33])
    changed = model.loss_per_user(seq2, tgt, neg2, gaps)
    assert base[0] == changed[0] and base[1] != changed[1]
    assert base.shape == (2,) and torch.isfinite(base).all()


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="delta"):
        DPConfig(delta=0)
    with pytest.raises(ValueError, match="positive"):
        DPConfig(noise_multiplier=0)
    with pytest.raises(ValueError, match="id_min_count"):
        fit(tiny(20), DPConfig(), replace(CFG, id_min_count=2, id_dropout=0.0))


def test_train_sasrec_with_dp_publishes_epsilon_and_no_item_counts(tmp_path: Path) -> None:
    from shoprec.data.idmap import IdMap
    from shoprec.data.interactions import SequenceData
    from shoprec.data.records import Item
    from shoprec.settings import Settings
    from shoprec.training.sasrec_job import train_sasrec

    t = tiny(120)
    data = SequenceData(
        name="tiny",
        sequences=t.histories,
        users=IdMap(f"u{k}" for k in range(len(t.histories))),
        items=IdMap(f"i{k}" for k in range(1, t.n_items + 1)),
        catalog=[Item(f"i{k}") for k in range(1, t.n_items + 1)],
        timestamps=t.timestamps,
    )
    cfg = replace(CFG, use_text=False, id_dropout=0.0, epochs=2)
    dp = DPConfig(noise_multiplier=1.0, delta=1e-3, n_negatives=8)
    settings = Settings(artifacts_dir=tmp_path, text_cache=tmp_path / "text.npz")
    run = train_sasrec(data, settings, cfg, "dp", progress=False, dp=dp)
    manifest = json.loads((run.path / "manifest.json").read_text())
    runs = manifest["privacy"]["runs"]
    assert len(runs) == 2  # the validation fit and the refit, both released
    assert math.isfinite(manifest["privacy"]["epsilon"])
    assert manifest["privacy"]["epsilon"] > max(r["epsilon"] for r in runs)  # composed
    assert manifest["calibration"]["tau"] == 0.0
    assert not (run.path / "log_prior.npy").exists()  # raw item counts would not be private


def test_no_epoch_is_chosen_on_private_validation_data() -> None:
    """Issue 23, Why 10: the epoch count is fixed in advance. Picking the best epoch (or
    stopping early) on the users' validation items would release them outside the epsilon,
    so under DP validation is never run and the weights are the last step's."""
    data = tiny(100)
    data.valid_targets = np.array([int(h[-1]) % data.n_items + 1 for h in data.histories])
    scores: list[float] = []
    rec = SASRecRecommender(
        replace(CFG, epochs=3, patience=1), progress=False, dp=DPConfig(delta=1e-3, n_negatives=8)
    )
    rec.on_validation = scores.append
    rec.fit(data)
    assert scores == []  # the old code validated each epoch and kept the best one
    assert rec.history_.valid == [] and rec.history_.best_epoch == 3  # the last epoch
    assert rec.privacy_.steps >= 3 * round(100 / 32) - 1
