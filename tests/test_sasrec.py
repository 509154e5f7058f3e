"""SASRec: config validation, learning on a toy task, the numpy serving half equal to the
trained network, and safe checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shoprec.data.interactions import TrainData
from shoprec.models.batching import pad_left
from shoprec.models.sasrec import SASRec, SASRecConfig
from shoprec.models.sasrec_infer import SASRecEncoder
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.models.scoring import recommend

N_ITEMS = 30


def _cyclic_histories(n_users: int = 120, seed: int = 0) -> list[np.ndarray]:
    """Users walk a fixed cycle 1 -> 2 -> ... -> 30 -> 1 from random starts: the next item is
    fully determined by the last one, so a sequence model must learn it."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_users):
        start, length = int(rng.integers(0, N_ITEMS)), int(rng.integers(4, 12))
        out.append((np.arange(start, start + length) % N_ITEMS + 1).astype(np.int64))
    return out


def _small(**kw) -> SASRecConfig:
    base = dict(
        max_len=10,
        dim=16,
        n_layers=2,
        n_heads=2,
        dropout=0.1,
        use_text=False,
        epochs=60,
        eval_every=5,
        patience=100,
        batch_size=32,
        lr=5e-3,
    )
    return SASRecConfig(**{**base, **kw})


@pytest.mark.parametrize(
    "bad",
    [
        dict(dim=10, n_heads=3),
        dict(loss="bpr"),
        dict(use_id=False, use_text=False),
        dict(dropout=1.0),
    ],
)
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        SASRecConfig(**bad)


@pytest.fixture(scope="module")
def trained() -> SASRecRecommender:
    hist = _cyclic_histories()
    valid = np.array([h[-1] % N_ITEMS + 1 for h in hist])
    return SASRecRecommender(_small(), progress=False).fit(
        TrainData(histories=hist, n_items=N_ITEMS, valid_targets=valid)
    )


def test_learns_the_next_item(trained: SASRecRecommender) -> None:
    hist = _cyclic_histories(40, seed=1)
    users = np.zeros(len(hist), dtype=np.int64)
    ids, _ = recommend(trained, users, hist, n=1)
    expected = np.array([h[-1] % N_ITEMS + 1 for h in hist])
    assert np.mean(ids[:, 0] == expected) >= 0.9
    assert trained.history_.best_score > 0.8


def test_numpy_encoder_equals_trained_model(trained: SASRecRecommender) -> None:
    enc = SASRecEncoder(trained.model_)
    for h in _cyclic_histories(10, seed=2) + [np.array([5]), np.arange(1, 25) % N_ITEMS + 1]:
        with torch.inference_mode():
            ref = trained.model_.scores(torch.from_numpy(pad_left([h], trained.config.max_len)))
        got = enc.scores(h)
        np.testing.assert_allclose(got[1:], ref[0, 1:].numpy(), atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(
            got[1:], trained.score(np.zeros(1, np.int64), [h])[0, 1:], atol=1e-5, rtol=1e-5
        )


def test_text_vectors_score_items_without_interactions() -> None:
    """Item 31 is never interacted with but its text vector equals item 2's: after item 1 the
    model must rank it high through text alone."""
    rng = np.random.default_rng(0)
    text = rng.normal(size=(N_ITEMS + 2, 24)).astype(np.float32)
    text[0] = 0
    text[N_ITEMS + 1] = text[2]
    hist = _cyclic_histories()
    cfg = _small(use_text=True, text_dropout=0.0, epochs=80)
    model = SASRecRecommender(cfg, progress=False).fit(
        TrainData(histories=hist, n_items=N_ITEMS + 1, item_text_vectors=text)
    )
    scores = model.score(np.zeros(1, np.int64), [np.array([30, 1])])[0]
    rank_new = int((scores > scores[N_ITEMS + 1]).sum())
    assert rank_new <= 3, rank_new


def test_save_load_round_trip(trained: SASRecRecommender, tmp_path) -> None:
    trained.save(tmp_path / "m")
    loaded = SASRecRecommender.load(tmp_path / "m")
    hist = _cyclic_histories(5, seed=3)
    users = np.zeros(5, dtype=np.int64)
    np.testing.assert_allclose(loaded.score(users, hist), trained.score(users, hist), atol=1e-6)
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_sampled_softmax_trains() -> None:
    hist = _cyclic_histories()
    model = SASRecRecommender(_small(loss="sampled", n_negatives=8, epochs=40), progress=False)
    model.fit(TrainData(histories=hist, n_items=N_ITEMS))
    ids, _ = recommend(model, np.zeros(20, np.int64), hist[:20], n=3)
    expected = np.array([h[-1] % N_ITEMS + 1 for h in hist[:20]])
    assert np.mean((ids == expected[:, None]).any(axis=1)) >= 0.8


def test_model_shapes() -> None:
    m = SASRec(_small(), N_ITEMS)
    seq = torch.from_numpy(pad_left([np.array([1, 2, 3]), np.array([4])], 10))
    assert m.encode(seq).shape == (2, 10, 16)
    assert m.scores(seq).shape == (2, N_ITEMS + 1)


def test_time_gaps_numpy_encoder_matches_and_buckets() -> None:
    from shoprec.models.sasrec import gap_buckets

    day = 86400.0
    assert gap_buckets(np.array([0, 0, day, 10 * day, 400 * day])).tolist() == [1, 2, 3, 6, 9]
    torch.manual_seed(0)
    cfg = _small(time_gaps=True)
    net = SASRec(cfg, N_ITEMS).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    enc = SASRecEncoder(net)
    rng = np.random.default_rng(0)
    for L in (1, 4, 15):
        h = rng.integers(1, N_ITEMS + 1, L)
        ts = np.sort(rng.integers(0, 100, L)).astype(float) * day
        g = torch.from_numpy(pad_left([gap_buckets(ts)], cfg.max_len))
        with torch.inference_mode():
            seq = torch.from_numpy(pad_left([h], cfg.max_len))
            ref = (net.encode(seq, None, g)[:, -1] @ net.item_matrix().T)[0].numpy()
        np.testing.assert_allclose(enc.scores(h, ts)[1:], ref[1:], atol=1e-5, rtol=1e-5)


def test_logit_adjustment_round_trip_and_encoder(trained: SASRecRecommender, tmp_path) -> None:
    """scores - tau * log prior: applied by score(), kept by save/load, and by the serving
    encoder built from the bundle (same numbers)."""
    hist = _cyclic_histories(5, seed=4)
    users = np.zeros(5, dtype=np.int64)
    plain = trained.score(users, hist)
    counts = np.arange(N_ITEMS + 1, dtype=np.float64)
    trained.set_logit_adjustment(0.2, counts)
    try:
        adjusted = trained.score(users, hist)
        prior = np.log((counts + 1) / (counts.sum() + len(counts)))
        np.testing.assert_allclose(adjusted[:, 1:], plain[:, 1:] - 0.2 * prior[1:], atol=1e-5)
        trained.save(tmp_path / "adj")
        loaded = SASRecRecommender.load(tmp_path / "adj")
        np.testing.assert_allclose(loaded.score(users, hist), adjusted, atol=1e-6)
        enc = SASRecEncoder(trained.model_)
        enc = enc.with_items(enc.items, trained.score_bias())
        np.testing.assert_allclose(enc.scores(hist[0])[1:], adjusted[0, 1:], atol=1e-5)
    finally:
        trained.set_logit_adjustment(0.0, counts)


@pytest.fixture(scope="module")
def text_model() -> SASRecRecommender:
    rng = np.random.default_rng(1)
    text = rng.normal(size=(N_ITEMS + 1, 24)).astype(np.float32)
    text[0] = 0
    cfg = _small(use_text=True, epochs=5)
    return SASRecRecommender(cfg, progress=False).fit(
        TrainData(histories=_cyclic_histories(), n_items=N_ITEMS, item_text_vectors=text)
    )


def test_text_lift_adds_cosine_of_latest_items_neighbours(text_model, tmp_path) -> None:
    """scores + beta * cos(latest item, item) over the latest item's nearest texts: applied by
    score(), kept by save/load, and equal in the serving encoder given the same table."""
    from shoprec.models.scoring import TEXT_K, text_neighbours

    hist = _cyclic_histories(6, seed=5)
    users = np.zeros(len(hist), dtype=np.int64)
    plain = text_model.score(users, hist)
    text_model.set_text_lift(2.0)
    try:
        lifted = text_model.score(users, hist)
        v = text_model.model_.text_vectors.numpy()
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        for b, h in enumerate(hist):
            cos = v[1:] @ v[h[-1]]
            cos[h[-1] - 1] = -np.inf  # the item itself is not its own neighbour
            near = np.argsort(-cos)[: min(TEXT_K, N_ITEMS - 1)] + 1
            want = plain[b].copy()
            want[near] += 2.0 * (v[near] @ v[h[-1]])
            np.testing.assert_allclose(lifted[b, 1:], want[1:], atol=1e-5)
        text_model.save(tmp_path / "lift")
        loaded = SASRecRecommender.load(tmp_path / "lift")
        np.testing.assert_allclose(loaded.score(users, hist), lifted, atol=1e-6)
        enc = SASRecEncoder(text_model.model_)
        ids, sims = text_neighbours(v, np.arange(len(v)))
        enc = enc.with_items(enc.items, None, (2.0, ids, sims))
        for b, h in enumerate(hist):
            np.testing.assert_allclose(enc.scores(h)[1:], lifted[b, 1:], atol=1e-5)
    finally:
        text_model.set_text_lift(0.0)


def test_calibration_grid_equals_scoring_with_each_pair(text_model) -> None:
    """The fast (tau, beta) grid gives the NDCG@10 that score() gives with each pair set."""
    from shoprec.models.validation import validation_ndcg10
    from shoprec.training.sasrec_job import _grid_ndcg10

    hist = _cyclic_histories(40, seed=6)
    inputs, targets = [h[:-1] for h in hist], np.array([h[-1] for h in hist])
    counts = np.bincount(np.concatenate(inputs), minlength=N_ITEMS + 1)
    text_model.set_text_lift(1.0)
    grid = _grid_ndcg10(text_model, inputs, targets, None, counts, (0.0, 0.3), (0.0, 1.5))
    try:
        for (tau, beta), got in grid.items():
            text_model.set_logit_adjustment(tau, counts)
            text_model.set_text_lift(beta)
            assert got == pytest.approx(validation_ndcg10(text_model, inputs, targets), abs=1e-9)
    finally:
        text_model.set_logit_adjustment(0.0, counts)
        text_model.set_text_lift(0.0)
