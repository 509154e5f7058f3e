"""Off-policy tuning of the re-rank weights from logged exploration traffic.

Exploration traffic is served by a weight setting drawn uniformly from a grid; each log
record keeps the list every grid setting would have shown in that context, which one was
served, and the feedback it got. The value of any grid setting ``t`` is then estimated by
inverse propensity scoring on whole lists,

    V(t) = mean_j  1[L_t(j) == L_served(j)] / mu_j * reward_j,
    mu_j = sum of the traffic shares of the settings g with L_g(j) == L_served(j)
           (#{g : L_g(j) == L_served(j)} / K when the draw is uniform),

unbiased because ``mu_j`` is exactly the probability that the logging policy showed that
list. The reward is a weighted objective of clicks, purchases and intra-list diversity; the
diversity of every setting's list is known in every logged context, so that term is averaged
directly (no weighting, no variance from it) and IPS covers the feedback only. The gain
over the current setting uses the same records (paired), so its interval is narrower than
the two intervals apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats as sps

from shoprec.ranking.strategy import Strategy


@dataclass(frozen=True)
class Objective:
    """Reward of one served list: ``clicks * c + purchases * p + diversity * d``."""

    clicks: float = 1.0
    purchases: float = 5.0
    diversity: float = 0.5


@dataclass
class Logged:
    """One exploration request: ``lists[g]`` the catalog ids setting ``g`` would show,
    ``served`` the setting drawn, the feedback on it, each list's diversity, and the shares
    the setting was drawn with (None: uniform)."""

    lists: list[list[str]]
    served: int
    clicks: int
    purchases: int
    diversity: list[float]
    shares: list[float] | None = None


def weight_grid(base: Strategy) -> list[Strategy]:
    """Re-rank weight settings around ``base`` (the first is ``base`` itself): relevance
    against diversity (MMR lambda), novelty, the last-item boost and the sentiment demotion."""
    grid = [
        base,
        replace(base, name="diverse", mmr_lambda=0.7),
        replace(base, name="novel", novelty=0.3),
        replace(base, name="no-boost", session_boost=0.0),
        replace(base, name="strong-boost", session_boost=0.5),
        replace(base, name="relevance-only", mmr_lambda=1.0, novelty=0.0),
    ]
    return grid


def write_log(path: Path, grid: list[Strategy], records: Iterable[Logged]) -> None:
    """JSON lines: a header with the grid, then one record per exploration request."""
    with open(path, "w") as f:
        f.write(json.dumps({"grid": [s.to_dict() for s in grid]}) + "\n")
        for r in records:
            f.write(json.dumps(asdict(r), separators=(",", ":")) + "\n")


def read_log(path: Path) -> tuple[list[Strategy], list[Logged]]:
    with open(path) as f:
        header = json.loads(f.readline())
        grid = [Strategy(**s) for s in header["grid"]]
        records = [Logged(**json.loads(line)) for line in f if line.strip()]
    for k, r in enumerate(records):
        if len(r.lists) != len(grid) or not 0 <= r.served < len(grid):
            raise ValueError(f"{path}: record {k + 1} does not match the grid of {len(grid)}")
    return grid, records


def ips_terms(records: list[Logged], objective: Objective) -> np.ndarray:
    """``(N, K)`` per-record terms of every grid setting (their column means estimate each
    setting's value per request): IPS-weighted feedback plus the list's own diversity."""
    k = len(records[0].lists) if records else 0
    out = np.zeros((len(records), k))
    for j, r in enumerate(records):
        served = r.lists[r.served]
        same = np.array([lst == served for lst in r.lists])
        mu = float(np.asarray(r.shares)[same].sum()) if r.shares else same.sum() / k
        feedback = objective.clicks * r.clicks + objective.purchases * r.purchases
        out[j] = same * feedback / mu + objective.diversity * np.asarray(r.diversity)
    return out


def _interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def estimate(
    grid: list[Strategy],
    records: list[Logged],
    objective: Objective,
    current: int = 0,
    level: float = 0.95,
) -> list[dict]:
    """Per grid setting: the estimated value per request with its interval, the paired gain
    over ``current`` with its interval, and how many records showed its list."""
    terms = ips_terms(records, objective)
    out = []
    for g, st in enumerate(grid):
        value, low, high = _interval(terms[:, g], level)
        gain, glow, ghigh = _interval(terms[:, g] - terms[:, current], level)
        matched = sum(r.lists[g] == r.lists[r.served] for r in records)
        out.append(
            {
                "setting": st.name,
                "weights": {k: getattr(st, k) for k in ("mmr_lambda", "novelty", "session_boost")},
                "value": value,
                "low": low,
                "high": high,
                "gain": gain,
                "gain_low": glow,
                "gain_high": ghigh,
                "matched": matched,
            }
        )
    return out


def diversity(vectors: np.ndarray, shown: np.ndarray) -> float:
    """Intra-list diversity: mean pairwise ``1 - cosine`` of the shown items' text vectors
    ``vectors[shown]`` (unit rows)."""
    if len(shown) < 2:
        return 0.0
    v = vectors[shown]
    sim = v @ v.T
    n = len(shown)
    off = sim.sum() - np.trace(sim)
    return float((n * (n - 1) - off) / (n * (n - 1)))
