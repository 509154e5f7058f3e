"""Most-popular baseline: score = how often an item occurs in the training histories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np

from shoprec.data.interactions import TrainData


@dataclass(frozen=True)
class PopularityConfig:
    """Popularity has nothing to tune; the config exists for a uniform manifest."""


class Popularity:
    """Counts interactions per item over ``fit``'s histories; the same list for everyone.

    The evaluation runner's ``pop-all`` is this model fitted on *all* interactions, test targets
    included: a leak that reproduces the published PopRec row (protocol check only).
    """

    name = "pop"

    def __init__(self, config: PopularityConfig | None = None) -> None:
        self.config = config or PopularityConfig()

    def fit(self, data: TrainData) -> Self:
        counts = data.item_counts().astype(np.float32)
        counts[0] = -np.inf
        self.counts_ = counts
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(users), len(self.counts_))).copy()
