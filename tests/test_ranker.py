"""The candidate ranker: contributions add up to its logit (the explanations cite them), the
pairwise products learn what two signals do together, and it survives save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shoprec.models.ranker import FEATURES, Ranker, RankerConfig


def _data(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Taken items are those where the first two signals are high TOGETHER (an interaction
    no single weight per feature can express)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, len(FEATURES)))
    y = ((x[:, 0] > 0.3) & (x[:, 1] > 0.3)).astype(np.float64)
    return x, y


def test_contributions_sum_to_the_logit_less_the_intercept() -> None:
    x, y = _data()
    r = Ranker().fit(x, y)
    np.testing.assert_allclose(r.contributions(x).sum(axis=1) + r.intercept_, r.score(x))
    z = (x - r.mean_) / r.scale_
    want = z @ r.coef_ + np.einsum("ni,ij,nj->n", z, r.pairs_, z) + r.intercept_
    np.testing.assert_allclose(r.score(x), want, atol=1e-9)


def test_pairwise_products_learn_an_interaction() -> None:
    x, y = _data()
    xt, yt = _data(seed=1)

    def auc(r: Ranker) -> float:
        s = r.score(xt)
        pos, neg = s[yt == 1], s[yt == 0]
        return float((pos[:, None] > neg[None, :]).mean())

    linear = Ranker(RankerConfig(pairwise=False)).fit(x, y)
    assert not linear.pairs_.any()
    assert auc(Ranker().fit(x, y)) > auc(linear) + 0.01


def test_save_and_load_keep_the_scores(tmp_path: Path) -> None:
    x, y = _data()
    r = Ranker().fit(x, y)
    r.save(tmp_path / "ranker")
    back = Ranker.load(tmp_path / "ranker")
    np.testing.assert_allclose(back.score(x), r.score(x))
    np.testing.assert_allclose(back.contributions(x), r.contributions(x))
