"""The statistics of an experiment from sufficient statistics (count, sum, sum of squares),
which is all the registry keeps: Wilson intervals for rates, Student / Welch intervals for
per-user means and their differences, and the posterior probability that each variant is best.

``tests/test_experiments_stats.py`` checks every function against scipy on the raw data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass
class Moments:
    """Count, sum and sum of squares of a per-unit metric (units: users or impressions)."""

    n: int = 0
    s: float = 0.0
    ss: float = 0.0

    @property
    def mean(self) -> float:
        return self.s / self.n if self.n else 0.0

    @property
    def var(self) -> float:
        """Unbiased sample variance (0 below two units)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.ss - self.s * self.s / self.n) / (self.n - 1))

    def change(self, old: float, new: float) -> None:
        """One unit's value moved from ``old`` to ``new`` (a new unit starts at 0)."""
        self.s += new - old
        self.ss += new * new - old * old


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (``(0, 1)`` with no trials)."""
    if n <= 0:
        return 0.0, 1.0
    k = min(max(k, 0), n)
    z = float(sps.norm.ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(m: Moments, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean (a point with zero spread; ``(nan, nan)`` below 2)."""
    if m.n < 2:
        return math.nan, math.nan
    half = float(sps.t.ppf(0.5 + level / 2, m.n - 1)) * math.sqrt(m.var / m.n)
    return m.mean - half, m.mean + half


def welch_diff(treat: Moments, control: Moments, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``treat - control`` with its Welch interval: (diff, low, high).

    The interval is nan when either side has fewer than two units; when both variances are
    zero it is the point itself.
    """
    diff = treat.mean - control.mean
    if treat.n < 2 or control.n < 2:
        return diff, math.nan, math.nan
    va, vb = treat.var / treat.n, control.var / control.n
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va * va / (treat.n - 1) + vb * vb / (control.n - 1))
    half = float(sps.t.ppf(0.5 + level / 2, dof)) * se
    return diff, diff - half, diff + half


def prob_best(
    successes: list[int], trials: list[int], draws: int = 20_000, seed: int = 0
) -> list[float]:
    """P(variant k has the highest rate) under independent Beta(1 + s, 1 + n - s) posteriors,
    by Monte Carlo with a fixed seed (reproducible reports)."""
    if not successes:
        return []
    rng = np.random.default_rng(seed)
    a = np.asarray(successes, np.float64) + 1.0
    b = np.maximum(np.asarray(trials, np.float64) - successes, 0.0) + 1.0
    samples = rng.beta(a[:, None], b[:, None], size=(len(a), draws))  # (K, D)
    wins = np.bincount(samples.argmax(axis=0), minlength=len(a))
    return (wins / draws).tolist()
