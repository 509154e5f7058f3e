"""Metrics against hand-computed cases; ranking with history masking and top-k."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoprec.evaluation import metrics as M
from shoprec.models import rank_metrics as R
from shoprec.models.scoring import mask_histories, top_k


def test_hit_rate_and_ndcg_by_hand() -> None:
    ranks = np.array([0, 1, 4, 9, 30])
    assert R.hit_rate(ranks, 1) == pytest.approx(1 / 5)
    assert R.hit_rate(ranks, 5) == pytest.approx(3 / 5)
    assert R.hit_rate(ranks, 10) == pytest.approx(4 / 5)
    expected5 = (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(6)) / 5
    assert R.ndcg(ranks, 5) == pytest.approx(expected5)
    expected10 = expected5 + 1 / math.log2(11) / 5
    assert R.ndcg(ranks, 10) == pytest.approx(expected10)
    assert R.hit_rate(np.array([], dtype=np.int64), 10) == 0.0
    assert R.ndcg(np.array([], dtype=np.int64), 10) == 0.0


def test_target_ranks_with_masking_and_top_k() -> None:
    # columns: 0 = padding, items 1..6
    scores = np.array(
        [
            [9.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
            [9.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            [9.0, 0.5, 0.5, 0.5, 0.9, 0.1, 0.0],
        ],
        dtype=np.float32,
    )
    histories = [np.array([1, 2]), np.array([6]), np.array([], dtype=np.int64)]
    mask_histories(scores, histories)
    assert np.all(np.isneginf(scores[:, 0]))
    assert np.isneginf(scores[0, [1, 2]]).all() and np.isneginf(scores[1, 6])
    ranks = R.target_ranks(scores, np.array([4, 5, 3]))
    # row 0: 3 (0.7) beats 4; row 1: nothing left above 5; row 2: 4 wins, 1 and 2 tie lower ids
    assert ranks.tolist() == [1, 0, 3]
    ids, top_scores = top_k(scores, 4)
    assert ids.tolist() == [[3, 4, 5, 6], [5, 4, 3, 2], [4, 1, 2, 3]]
    np.testing.assert_allclose(top_scores[2], [0.9, 0.5, 0.5, 0.5])
    # a target ranks below k exactly when it is in the top-k list
    for k in (1, 4):
        in_top = [t in row for t, row in zip([4, 5, 3], top_k(scores, k)[0], strict=True)]
        assert (ranks < k).tolist() == in_top


def test_top_k_breaks_boundary_ties_by_lower_id() -> None:
    scores = np.array([[-np.inf, 0.5, 0.5, 0.5, 0.9, 0.1, 0.0]])
    ids, _ = top_k(scores, 3)
    assert ids.tolist() == [[4, 1, 2]]


def test_target_ranks_masked_nan_and_constant_scores() -> None:
    scores = np.array([[-np.inf, 1.0, 2.0, 3.0]])
    mask_histories(scores, [np.array([3])])
    assert R.target_ranks(scores, np.array([3])).tolist() == [3]  # masked target comes last
    nan_scores = np.array([[-np.inf, np.nan, 1.0, 0.5]])
    assert R.target_ranks(nan_scores, np.array([1])).tolist() == [3]  # NaN = -inf
    flat = np.zeros((4, 101))
    ranks = R.target_ranks(flat, np.array([1, 10, 50, 100]))
    assert ranks.tolist() == [1, 10, 50, 100]  # ties give no credit beyond id order
    assert R.hit_rate(ranks, 10) == 0.25


def test_catalog_coverage_and_novelty() -> None:
    top = np.array([[1, 2, 3], [2, 3, 0]])
    assert M.catalog_coverage(top, 10) == pytest.approx(0.3)
    counts = np.array([0, 8, 4, 2, 1])  # (n_items + 1,), 8 users
    top = np.array([[1, 2], [3, 4]])
    expected = np.mean([-math.log2(8 / 8), -math.log2(4 / 8), -math.log2(2 / 8), -math.log2(1 / 8)])
    assert M.novelty(top, counts, n_users=8) == pytest.approx(expected)  # = 1.5
    unseen = np.array([0, 0, 0, 0, 0])
    assert M.novelty(np.array([[1]]), unseen, n_users=4) == pytest.approx(2.0)


def test_intra_list_diversity() -> None:
    v = np.zeros((4, 2))
    v[1], v[2], v[3] = [1.0, 0.0], [0.0, 1.0], [1 / math.sqrt(2), 1 / math.sqrt(2)]
    # pairs (1,2): cos 0; (1,3): cos .707; (2,3): cos .707
    expected = np.mean([1.0, 1 - 1 / math.sqrt(2), 1 - 1 / math.sqrt(2)])
    assert M.intra_list_diversity(np.array([[1, 2, 3]]), v) == pytest.approx(expected)
    assert M.intra_list_diversity(np.array([[1, 1], [1, 2]]), v) == pytest.approx(0.5)
    assert M.intra_list_diversity(np.array([[1]]), v) == 0.0


def test_binary_classification_by_hand() -> None:
    y = np.array([1, 1, 1, 0, 0])
    s = np.array([0.9, 0.6, 0.2, 0.7, 0.1])
    out = M.binary_classification(y, s, threshold=0.5)
    # predicted positive: 0.9, 0.6, 0.7 -> tp 2, fp 1, fn 1, tn 1
    assert out["accuracy"] == pytest.approx(3 / 5)
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3)
    assert out["auc"] == pytest.approx(4 / 6)  # 4 of 6 positive-negative pairs ordered right
    none = M.binary_classification(y, s, threshold=2.0)
    assert none["precision"] == 0.0 and none["recall"] == 0.0 and none["f1"] == 0.0
    assert math.isnan(M.binary_classification(np.ones(3), s[:3], 0.5)["auc"])


def test_best_threshold_by_hand() -> None:
    y = np.array([1, 1, 0, 0])
    assert M.best_threshold(y, np.array([0.9, 0.8, 0.7, 0.6])) == pytest.approx(0.8)
    # thresholds 0.9 and 0.1 are both right on 2 of 3: the lowest threshold wins
    y = np.array([1, 0, 1])
    s = np.array([0.9, 0.5, 0.1])
    assert M.best_threshold(y, s) == pytest.approx(0.1)
    # all negatives: a threshold above every score
    assert M.best_threshold(np.zeros(3), np.array([0.3, 0.2, 0.1])) > 0.3
    # tied scores are never split
    y = np.array([1, 0, 1, 0])
    s = np.array([0.8, 0.5, 0.5, 0.2])
    t = M.best_threshold(y, s)
    assert t in {0.8, 0.5}
    acc = M.binary_classification(y, s, t)["accuracy"]
    assert acc == max(M.binary_classification(y, s, c)["accuracy"] for c in (0.8, 0.5, 0.2, 0.9))
