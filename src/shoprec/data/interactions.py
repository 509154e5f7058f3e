"""The in-memory form every model trains on: one ordered item sequence per user."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from shoprec.data.idmap import IdMap
from shoprec.data.records import Item


@dataclass
class SequenceData:
    """Users' chronologically ordered interactions, in internal ids.

    Attributes
    ----------
    name : dataset name (``amazon-beauty``, a folder path, ``synthetic``).
    sequences : ``sequences[u]`` is an int64 array of internal item ids (1..n_items) for the user
        with internal id ``u + 1``, oldest first.
    timestamps : same shapes as ``sequences`` (unix seconds, float64) or ``None`` when unknown.
    users, items : id maps between external and internal ids.
    catalog : ``catalog[i - 1]`` is the :class:`Item` with internal id ``i``.
    """

    name: str
    sequences: list[np.ndarray]
    users: IdMap
    items: IdMap
    catalog: list[Item]
    timestamps: list[np.ndarray] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def item_texts(self) -> list[str]:
        """Texts in internal order, ``texts[i - 1]`` for item ``i``."""
        return [it.text() for it in self.catalog]

    def item_tags(self) -> list[frozenset[str]]:
        """Tag sets (category path, brand, attributes) per item, ``tags[i - 1]`` for item ``i``."""
        out = []
        for it in self.catalog:
            tags = {f"cat:{c}" for c in it.category}
            if it.brand:
                tags.add(f"brand:{it.brand}")
            for key, value in it.attributes.items():
                # anonymised id lists (e.g. S3-Rec's brand/category ids) become one tag per id
                values = value.split() if key.endswith("_ids") else [value]
                tags.update(f"{key}:{v}" for v in values)
            out.append(frozenset(tags))
        return out

    def share_of_shoppers(self, fraction: float, seed: int = 0) -> SequenceData:
        """A random ``fraction`` of the shoppers (at least one), every item kept: a weaker
        training set for the promotion gate's test, a smaller one for a tuning bench."""
        if fraction >= 1.0:
            return self
        rng = np.random.default_rng(seed)
        n = max(1, round(fraction * self.n_users))
        keep = np.sort(rng.choice(self.n_users, n, replace=False)).tolist()
        users, times = self.users.to_list(), self.timestamps
        return replace(
            self,
            sequences=[self.sequences[u] for u in keep],
            timestamps=None if times is None else [times[u] for u in keep],
            users=IdMap(users[u] for u in keep),
        )

    def has_text(self) -> bool:
        return any(it.title or it.description for it in self.catalog)


@dataclass
class TrainData:
    """What ``fit`` sees: histories per user and the catalog size.

    ``histories[u]`` (int64, oldest first) belongs to the user with internal id ``u + 1``; ``fit``
    must never see an evaluation target.
    """

    histories: list[np.ndarray]
    n_items: int
    item_texts: list[str] | None = None
    item_text_vectors: np.ndarray | None = None  # (n_items + 1, D) float32, row 0 = zeros
    #: optional next item after each history, for early stopping (never a test target)
    valid_targets: np.ndarray | None = None
    #: optional unix times of each history (same shapes), for time-aware models
    timestamps: list[np.ndarray] | None = None

    def user_item_matrix(self, weights: str = "binary"):  # -> scipy.sparse.csr_matrix
        """Sparse ``(n_users, n_items + 1)`` matrix of the histories (column 0 = padding, empty)."""
        import scipy.sparse as sp

        rows = np.repeat(np.arange(len(self.histories)), [len(h) for h in self.histories])
        cols = np.concatenate(self.histories) if self.histories else np.zeros(0, np.int64)
        vals = np.ones(len(cols), dtype=np.float32)
        m = sp.csr_matrix(
            (vals, (rows, cols)), shape=(len(self.histories), self.n_items + 1), dtype=np.float32
        )
        if weights == "binary":
            m.data[:] = 1.0
        return m

    def item_counts(self) -> np.ndarray:
        """Interactions per item, ``(n_items + 1,)`` int64 (index 0 = padding)."""
        cols = np.concatenate(self.histories) if self.histories else np.zeros(0, np.int64)
        return np.bincount(cols, minlength=self.n_items + 1)
