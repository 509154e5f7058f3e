"""The candidate ranker: logistic regression over the candidate sources' signals (the
write-up's choice), trained on validation replays; its per-feature contributions are also
what the explanations cite."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np

from shoprec.models.artifacts import read_arrays, write_arrays

#: Candidate features, in column order (see :mod:`shoprec.ranking.candidates`).
FEATURES: tuple[str, ...] = (
    "seq",  # sequence model score
    "seq_logrank",  # log1p of the item's rank in the sequence model's list
    "covis",  # recency-weighted co-visitation similarity to the recent items
    "text",  # best text cosine to the last few items
    "trending",  # log1p decayed event count
    "popularity",  # log1p training interactions
    "is_new",  # arrived within the new-arrivals window
    "affinity",  # the shopper's interest weight on the item's tags
)


@dataclass(frozen=True)
class RankerConfig:
    """Attributes
    ----------
    c : inverse L2 regularisation strength of the logistic regression.
    max_iter : solver iterations.
    pairwise : also weigh the products of every two standardised features (and squares):
        signals that matter together (the sequence score where co-visitation agrees, say).
    """

    c: float = 1.0
    max_iter: int = 2000
    pairwise: bool = True

    def __post_init__(self) -> None:
        if self.c <= 0 or self.max_iter < 1:
            raise ValueError("c and max_iter must be positive")


class Ranker:
    """Standardised features ``z`` -> logit ``z @ coef_ + z @ pairs_ @ z + intercept_``.

    ``coef_`` ``(F,)``, ``pairs_`` ``(F, F)`` symmetric (zero without ``pairwise``), ``mean_``,
    ``scale_``. Feature ``i``'s contribution is ``z_i * (coef_i + (pairs_ @ z)_i)``: each
    product's weight split evenly between its two features, so contributions sum to the
    logit less the intercept (the explanations cite them)."""

    name = "ranker"

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> Self:
        """``x`` ``(N, F)`` candidate features, ``y`` ``(N,)`` 1 = the item the shopper took."""
        from sklearn.linear_model import LogisticRegression

        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        z = (x - self.mean_) / self.scale_
        f = z.shape[1]
        iu, ju = np.triu_indices(f) if self.config.pairwise else (np.zeros(0, int),) * 2
        lr = LogisticRegression(C=self.config.c, max_iter=self.config.max_iter)
        lr.fit(np.hstack([z, z[:, iu] * z[:, ju]]), y)
        w = lr.coef_.ravel().astype(np.float64)
        self.coef_ = w[:f]
        self.pairs_ = np.zeros((f, f))
        self.pairs_[iu, ju] += w[f:] / 2  # off the diagonal each half lands on both sides;
        self.pairs_[ju, iu] += w[f:] / 2  # a square's weight lands twice on its diagonal
        self.intercept_ = float(lr.intercept_[0])
        return self

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """``(N, F)`` each feature's share of the logit (relative to an average candidate)."""
        z = (x - self.mean_) / self.scale_
        return z * (self.coef_ + z @ self.pairs_)

    def score(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` logits."""
        return self.scored(x)[0]

    def scored(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N,)`` logits and their ``(N, F)`` :meth:`contributions`, computed once."""
        contrib = self.contributions(x)
        return contrib.sum(axis=1) + self.intercept_, contrib

    def save(self, path: Path) -> None:
        arrays = {"coef": self.coef_, "pairs": self.pairs_, "mean": self.mean_}
        arrays["scale"] = self.scale_
        arrays["intercept"] = np.array([self.intercept_])
        write_arrays(path, self.name, {**asdict(self.config), "features": list(FEATURES)}, arrays)

    @classmethod
    def load(cls, path: Path) -> Ranker:
        manifest, a = read_arrays(path, cls.name)
        cfg = dict(manifest["config"])
        if tuple(cfg.pop("features")) != FEATURES:
            raise ValueError(f"{path}: ranker trained on other features")
        r = cls(RankerConfig(**cfg))
        r.coef_, r.mean_, r.scale_ = a["coef"], a["mean"], a["scale"]
        r.pairs_ = a["pairs"] if "pairs" in a else np.zeros((len(FEATURES), len(FEATURES)))
        r.intercept_ = float(a["intercept"][0])
        return r
