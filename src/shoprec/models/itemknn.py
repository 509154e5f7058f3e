"""Item-kNN collaborative filtering on user-level co-occurrence (the "traditional CF" baseline).

``S[i, j]`` is the (asymmetric) cosine similarity of items ``i`` and ``j`` over the users who
touched them, each row pruned to its ``k`` largest entries; a user's score row is their history
weights times ``S``: ``scores = w @ S``, with ``w`` optionally decaying towards older items.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from shoprec.data.interactions import TrainData
from shoprec.models.artifacts import read_arrays, write_arrays
from shoprec.models.scoring import top_k


@dataclass(frozen=True)
class ItemKNNConfig:
    """Hyper-parameters of :class:`ItemKNN`.

    Attributes
    ----------
    k : neighbours kept per item (per row of ``S``), ``>= 1``.
    shrink : added to the similarity denominator, ``>= 0``; damps similarities that rest on
        few co-occurrences.
    alpha : asymmetric-cosine exponent in ``[0, 1]``:
        ``S[i, j] = c_ij / (n_i ** alpha * n_j ** (1 - alpha) + shrink)`` for a history item ``i``
        and a candidate ``j``, where ``c_ij`` counts users who touched both and ``n_i`` users who
        touched ``i``. ``0.5`` is plain cosine; ``1`` is ``P(j | i)`` (favours popular
        candidates); ``0`` is ``P(i | j)`` (favours rare ones).
    recency_decay : history weight of an item ``t`` steps before the user's latest one is
        ``recency_decay ** t``, in ``(0, 1]``; ``1`` weighs the whole history equally. A repeated
        item counts once, at its latest position.
    popularity_tiebreak : add ``1e-9 * count / max_count`` to every score, so items without
        co-occurrence evidence are ordered by popularity instead of by id (and a user whose
        history has no neighbours gets the popular items).
    """

    k: int = 100
    shrink: float = 10.0
    alpha: float = 0.5
    recency_decay: float = 1.0
    popularity_tiebreak: bool = True

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.shrink < 0:
            raise ValueError(f"shrink must be >= 0, got {self.shrink}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if not 0.0 < self.recency_decay <= 1.0:
            raise ValueError(f"recency_decay must be in (0, 1], got {self.recency_decay}")


class ItemKNN:
    """Item-based kNN on a top-k pruned asymmetric-cosine similarity matrix.

    Fitted state: ``similarity_`` (``(n_items + 1, n_items + 1)`` float32 CSR, row = history
    item, column = candidate; row and column 0 empty) and ``popularity_`` (``(n_items + 1,)``
    float32 tie-break term, zeros when disabled).
    """

    name = "itemknn"

    def __init__(self, config: ItemKNNConfig | None = None) -> None:
        self.config = config or ItemKNNConfig()

    def fit(self, data: TrainData) -> Self:
        cfg = self.config
        x = data.user_item_matrix()  # (U, I + 1) binary CSR
        counts = np.asarray(x.sum(axis=0)).ravel().astype(np.float64)  # (I + 1,) users per item
        co = (x.T @ x).tocoo()  # (I + 1, I + 1) co-occurrence counts
        keep = co.row != co.col
        rows, cols, c = co.row[keep], co.col[keep], co.data[keep].astype(np.float64)
        denom = counts[rows] ** cfg.alpha * counts[cols] ** (1.0 - cfg.alpha) + cfg.shrink
        sims = (c / denom).astype(np.float32)
        self.similarity_ = _prune_rows(rows, cols, sims, data.n_items + 1, cfg.k)
        pop = np.zeros(data.n_items + 1, dtype=np.float32)
        if cfg.popularity_tiebreak and counts.max() > 0:
            pop = (1e-9 * counts / counts.max()).astype(np.float32)
        self.popularity_ = pop
        return self

    def history_weights(self, histories: list[np.ndarray]) -> sp.csr_matrix:
        """Sparse ``(B, n_items + 1)`` float32 history weights (latest item weighs 1)."""
        decay = self.config.recency_decay
        rows, cols, vals = [], [], []
        for b, h in enumerate(histories):
            if not len(h):
                continue
            rev = np.asarray(h, dtype=np.int64)[::-1]
            items, age = np.unique(rev, return_index=True)  # age of the latest occurrence
            rows.append(np.full(len(items), b))
            cols.append(items)
            vals.append(np.power(decay, age, dtype=np.float64))
        n = self.similarity_.shape[0]
        if not rows:
            return sp.csr_matrix((len(histories), n), dtype=np.float32)
        return sp.csr_matrix(
            (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(histories), n),
        )

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``(B, n_items + 1)`` float32: ``w @ S`` plus the popularity tie-break; column 0 ``-inf``.

        Items with no similarity to the history score 0 (or their tie-break), never ``-inf``.
        """
        scores = (self.history_weights(histories) @ self.similarity_).toarray()  # (B, I + 1)
        scores += self.popularity_
        scores[:, 0] = -np.inf
        return scores.astype(np.float32, copy=False)

    def similar_items(self, item_ids: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest neighbours of each item, ``(len(item_ids), n)`` ids and similarities.

        The item itself and the padding id are excluded; items with fewer than ``n`` neighbours
        are filled with similarity-0 items.
        """
        item_ids = np.asarray(item_ids, dtype=np.int64)
        rows = self.similarity_[item_ids].toarray()  # (Q, I + 1)
        rows[:, 0] = -np.inf
        rows[np.arange(len(item_ids)), item_ids] = -np.inf
        return top_k(rows, n)

    def save(self, path: str | Path) -> None:
        """Write ``arrays.npz`` (CSR arrays, no pickle) and ``manifest.json`` into ``path``."""
        s = self.similarity_
        write_arrays(
            Path(path),
            self.name,
            asdict(self.config),
            {
                "data": s.data,
                "indices": s.indices,
                "indptr": s.indptr,
                "shape": np.asarray(s.shape, dtype=np.int64),
                "popularity": self.popularity_,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> ItemKNN:
        """Inverse of :meth:`save`."""
        manifest, arrays = read_arrays(Path(path), cls.name)
        model = cls(ItemKNNConfig(**manifest["config"]))
        shape = tuple(int(v) for v in arrays["shape"])
        model.similarity_ = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape
        )
        model.popularity_ = arrays["popularity"]
        return model


def _prune_rows(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int, k: int
) -> sp.csr_matrix:
    """CSR ``(n, n)`` keeping the ``k`` largest ``vals`` of each row (ties: lower column)."""
    order = np.lexsort((cols, -vals, rows))  # by row, then value descending
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(n))  # first entry of each row
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    m = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, n), dtype=np.float32)
    m.sort_indices()
    return m
