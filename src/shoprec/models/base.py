"""The contract every recommender follows (docs/architecture.md, model contract).

A model's constructor stores its config; ``fit`` learns from :class:`TrainData` and returns
``self``; ``score`` gives a dense score row over the whole catalog for a batch of users, from
their internal user ids *and* their current histories (sequence models and fold-in models read
the history; models with per-user factors read the id). Column 0 (padding) is ``-inf``.
Top-k selection, masking and id mapping are shared (:mod:`shoprec.models.scoring`).
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import numpy as np

from shoprec.data.interactions import TrainData


@runtime_checkable
class Recommender(Protocol):
    """Structural type of a fitted-or-not model."""

    name: str

    def fit(self, data: TrainData) -> Self:
        """Learn from ``data.histories``; must not see evaluation targets."""
        ...

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """Scores ``(B, n_items + 1)`` float32 for internal user ids ``users`` ``(B,)``
        (1-based; 0 = unknown user) with their histories; column 0 is ``-inf``."""
        ...
