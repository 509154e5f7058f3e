"""Implicit-feedback ALS matrix factorisation (Hu, Koren & Volinsky 2008) through ``implicit``.

Training is ``implicit.cpu.als.AlternatingLeastSquares``; only the item factors are kept.
Scoring folds the given history in: every user's vector is the closed-form ALS solve against
the fixed item factors, so new users and histories that grew after training are served the
same way as the users seen in training. Scores are ``user_vectors @ item_factors.T`` in numpy.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np

from shoprec.data.interactions import TrainData
from shoprec.models.artifacts import read_arrays, write_arrays
from shoprec.models.scoring import top_k


@dataclass(frozen=True)
class ALSConfig:
    """Hyper-parameters of :class:`ALS`.

    Attributes
    ----------
    factors : latent dimensions, ``>= 1``.
    regularization : L2 weight ``lambda`` on user and item factors, ``>= 0``.
    alpha : confidence of an observed interaction, ``> 0``. ``implicit``'s convention:
        ``C = alpha * R`` with ``R`` binary, unobserved pairs weigh 1 (so ``alpha = 1`` gives
        observed and unobserved pairs equal weight).
    iterations : ALS sweeps (users then items), ``>= 1``.
    random_state : seed of the factor initialisation.
    num_threads : threads for ``implicit``; ``0`` = every CPU this process may use.
    """

    factors: int = 64
    regularization: float = 0.01
    alpha: float = 10.0
    iterations: int = 15
    random_state: int = 42
    num_threads: int = 0

    def __post_init__(self) -> None:
        if self.factors < 1:
            raise ValueError(f"factors must be >= 1, got {self.factors}")
        if self.regularization < 0:
            raise ValueError(f"regularization must be >= 0, got {self.regularization}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.num_threads < 0:
            raise ValueError(f"num_threads must be >= 0, got {self.num_threads}")


class ALS:
    """Weighted matrix factorisation by alternating least squares, with history fold-in.

    Fitted state: ``item_factors_`` ``(n_items + 1, factors)`` float32 (row 0 = padding, zeros).
    """

    name = "als"

    def __init__(self, config: ALSConfig | None = None) -> None:
        self.config = config or ALSConfig()

    def fit(self, data: TrainData) -> Self:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        cfg = self.config
        with threadpool_limits(1, "blas"):  # implicit parallelises itself
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                random_state=cfg.random_state,
                num_threads=resolve_threads(cfg.num_threads),
            )
            model.fit(data.user_item_matrix(), show_progress=False)
        factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        factors[0] = 0.0
        self.item_factors_ = factors
        return self

    def user_vectors(self, histories: list[np.ndarray]) -> np.ndarray:
        """Fold-in: ``(B, factors)`` float32 ALS user solves for ``histories``."""
        cfg = self.config
        return fold_in_least_squares(self.item_factors_, histories, cfg.regularization, cfg.alpha)

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``(B, n_items + 1)`` float32 ``user_vectors(histories) @ item_factors_.T``; column 0
        ``-inf``. ``users`` is not read: the history alone defines the user."""
        scores = self.user_vectors(histories) @ self.item_factors_.T  # (B, I + 1)
        scores[:, 0] = -np.inf
        return scores

    def similar_items(self, item_ids: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items with the most similar factors (cosine), ``(len(item_ids), n)`` ids and
        similarities; the item itself and the padding id are excluded."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        y = self.item_factors_
        y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)  # (I + 1, F)
        sims = y[item_ids] @ y.T  # (Q, I + 1)
        sims[:, 0] = -np.inf
        sims[np.arange(len(item_ids)), item_ids] = -np.inf
        return top_k(sims, n)

    def save(self, path: str | Path) -> None:
        """Write ``arrays.npz`` (no pickle) and ``manifest.json`` into folder ``path``."""
        write_arrays(
            Path(path), self.name, asdict(self.config), {"item_factors": self.item_factors_}
        )

    @classmethod
    def load(cls, path: str | Path) -> ALS:
        """Inverse of :meth:`save`."""
        manifest, arrays = read_arrays(Path(path), cls.name)
        model = cls(ALSConfig(**manifest["config"]))
        model.item_factors_ = arrays["item_factors"]
        return model


def fold_in_least_squares(
    item_factors: np.ndarray,
    histories: list[np.ndarray],
    regularization: float,
    alpha: float,
    batch_size: int = 512,
) -> np.ndarray:
    """Closed-form implicit-ALS user solve against fixed item factors.

    For each user, with ``Y`` the item factors and ``Y_h`` the rows of the (distinct) history
    items: ``x = (Y^T Y + lambda I + (alpha - 1) Y_h^T Y_h)^-1 (alpha Y_h^T 1)``, the same
    normal equations ``implicit`` solves in training (``C = alpha * R``, ``P = R``).

    Parameters
    ----------
    item_factors : (I + 1, F) float32, row 0 = padding.
    histories : B int arrays of item ids (repeats count once; empty gives a zero vector).

    Returns
    -------
    (B, F) float32 user vectors.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # threaded BLAS on many small matrices is ~30x slower
        y = item_factors.astype(np.float64)
        return _fold_in(y, histories, regularization, alpha, batch_size)


def _fold_in(
    y: np.ndarray, histories: list[np.ndarray], regularization: float, alpha: float, batch_size: int
) -> np.ndarray:
    n_factors = y.shape[1]
    base = y.T @ y + regularization * np.eye(n_factors)  # (F, F)
    out = np.zeros((len(histories), n_factors), dtype=np.float32)
    for start in range(0, len(histories), batch_size):
        chunk = [np.unique(h) for h in histories[start : start + batch_size]]
        lengths = np.array([len(h) for h in chunk])
        ids = np.zeros((len(chunk), max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
        for b, h in enumerate(chunk):
            ids[b, : len(h)] = h
        valid = (np.arange(ids.shape[1]) < lengths[:, None]).astype(np.float64)  # (b, L)
        yh = y[ids] * valid[:, :, None]  # (b, L, F), padding rows zeroed
        a = base + (alpha - 1.0) * (yh.transpose(0, 2, 1) @ yh)  # (b, F, F)
        rhs = alpha * yh.sum(axis=1)  # (b, F)
        out[start : start + len(chunk)] = np.linalg.solve(a, rhs[:, :, None])[:, :, 0]
    return out


def resolve_threads(num_threads: int) -> int:
    """``0`` -> the number of CPUs this process may run on; otherwise ``num_threads``."""
    if num_threads:
        return num_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
