"""Experiment statistics against scipy on raw per-unit data, sticky hashing, and the bandit's
shares. The registry keeps only (count, sum, sum of squares): these tests prove that the
intervals it reports from them are the ones scipy computes from the full data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from shoprec.experiments.assignment import bucket, pick
from shoprec.experiments.bandit import thompson_shares
from shoprec.experiments.stats import Moments, mean_ci, prob_best, welch_diff, wilson


def moments(x: np.ndarray) -> Moments:
    m = Moments()
    for v in x:  # built as the registry builds it: one unit's change at a time
        m.n += 1
        m.change(0.0, float(v))
    return m


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "a_rev": np.round(rng.exponential(20.0, 400) * (rng.random(400) < 0.2), 2),
        "b_rev": np.round(rng.exponential(25.0, 500) * (rng.random(500) < 0.25), 2),
        "a_conv": (rng.random(400) < 0.12).astype(float),
        "b_conv": (rng.random(500) < 0.17).astype(float),
    }


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 1234), (1, 2)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, level: float) -> None:
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert wilson(k, n, level) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_mean_interval_matches_scipy(data: dict[str, np.ndarray]) -> None:
    for key in ("a_rev", "b_rev", "a_conv"):
        x = data[key]
        ref = sps.ttest_1samp(x, 0.0).confidence_interval(0.95)
        m = moments(x)
        assert m.mean == pytest.approx(x.mean(), rel=1e-12)
        assert m.var == pytest.approx(x.var(ddof=1), rel=1e-9)
        assert mean_ci(m) == pytest.approx((ref.low, ref.high), rel=1e-9)


@pytest.mark.parametrize("metric", ["rev", "conv"])
def test_welch_difference_matches_scipy(data: dict[str, np.ndarray], metric: str) -> None:
    a, b = data[f"a_{metric}"], data[f"b_{metric}"]
    ref = sps.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    diff, low, high = welch_diff(moments(b), moments(a))
    assert diff == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert (low, high) == pytest.approx((ref.low, ref.high), rel=1e-9)


def test_welch_degenerate_cases() -> None:
    one = Moments(1, 1.0, 1.0)
    assert np.isnan(welch_diff(one, Moments(5, 1.0, 1.0))[1])
    flat = Moments(4, 0.0, 0.0)
    assert welch_diff(flat, flat) == (0.0, 0.0, 0.0)


def test_probability_best_matches_integration() -> None:
    # P(rate_b > rate_a) under Beta posteriors, by quadrature: the integral of f_b * F_a
    sa, na, sb, nb = 30, 400, 48, 420
    fa = sps.beta(1 + sa, 1 + na - sa)
    fb = sps.beta(1 + sb, 1 + nb - sb)
    ref, _ = integrate.quad(lambda x: fb.pdf(x) * fa.cdf(x), 0, 1, limit=200)
    p = prob_best([sa, sb], [na, nb], draws=400_000, seed=1)
    assert sum(p) == pytest.approx(1.0)
    assert p[1] == pytest.approx(ref, abs=0.003)


def test_assignment_is_sticky_and_balanced() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    first = [pick(bucket("exp", u), [0.3, 0.7]) for u in users]
    again = [pick(bucket("exp", u), [0.3, 0.7]) for u in reversed(users)][::-1]
    assert first == again
    share = np.mean(np.asarray(first) == 0)
    assert share == pytest.approx(0.3, abs=0.015)  # 4.6 standard errors
    other = [pick(bucket("other", u), [0.3, 0.7]) for u in users]
    # independent salts: agreement is 0.3^2 + 0.7^2 = 0.58, not 1
    assert np.mean(np.asarray(first) == np.asarray(other)) == pytest.approx(0.58, abs=0.02)


def test_pick_edges() -> None:
    assert pick(0.0, [0.0, 1.0]) == 1
    assert pick(0.9999999999, [0.5, 0.4999999]) == 1


def test_thompson_shares_favour_the_better_variant_within_the_floor() -> None:
    even = thompson_shares([10, 10], [100, 100], floor=0.05)
    assert even == pytest.approx([0.5, 0.5], abs=0.05)
    skew = thompson_shares([5, 40], [200, 200], floor=0.05)
    assert skew[0] == pytest.approx(0.05, abs=1e-9) and skew[1] == pytest.approx(0.95, abs=1e-9)
    assert sum(thompson_shares([1, 2, 3], [10, 10, 10], floor=0.1)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="floor"):
        thompson_shares([1, 2, 3], [10, 10, 10], floor=0.4)
