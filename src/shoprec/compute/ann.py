"""Approximate nearest neighbours by inner product over a large catalog (faiss IVF-Flat).

Below :func:`min_items` items the callers keep their exact numpy scans (the reference); above
it, they ask an :class:`AnnIndex` for a short list and score that list exactly. Why faiss and
why IVF-Flat rather than a graph: ``bench/results/ann_choice.md`` (on a 2-core machine a
graph over 50k items took about a minute to build and IVF cells 5-10 s; a new item is one
assignment, and a top 1,000 costs what a top 50 does: the cells probed).

An index maps its rows to labels (catalog indices). Several wrappers may share one faiss
index (a bundle and the bundle extended by an upsert): each sees only the rows it labelled,
so a row another wrapper added later is skipped (label ``-1``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

Metric = Literal["ip", "cosine"]


def min_items() -> int:
    """``SHOPREC_ANN_MIN_ITEMS``: catalog size from which the index is used (0 = always)."""
    from shoprec.settings import Settings

    return Settings().ann_min_items


def wanted(n_items: int, threshold: int | None = None) -> bool:
    """Whether a catalog of ``n_items`` goes through an index (``threshold`` overrides the
    setting)."""
    return n_items > 0 and n_items >= (min_items() if threshold is None else threshold)


@dataclass
class _Shared:
    """The faiss index and the lock that orders adds with searches (faiss IVF is not safe
    to add to while another thread searches it)."""

    index: Any
    lock: threading.Lock


class AnnIndex:
    """Rows of ``(N, D)`` float32 vectors under int64 labels, searched by inner product
    (``metric="cosine"``: vectors and queries are normalised first).

    Build with :meth:`build`; :meth:`added` returns a wrapper that also holds new rows,
    :meth:`relabelled` one whose labels are mapped (a model's ids to the catalog's).
    """

    #: Cells probed per query: this share of all cells, within ``[MIN_PROBE, MAX_PROBE]``. The
    #: cap keeps a large catalog's neighbour tables affordable (a share scans N/8 rows per
    #: row): on 100k synthetic text vectors 64 of 1,264 cells kept overlap@50 at 0.993 (0.997
    #: at 158) for 2.3x less time; Beauty (310 cells, 39 probed) is below the cap.
    PROBE_SHARE = 1 / 8
    MIN_PROBE, MAX_PROBE = 8, 64

    def __init__(self, shared: _Shared, labels: np.ndarray, metric: Metric) -> None:
        self._shared, self.labels, self.metric = shared, labels, metric

    @classmethod
    def build(cls, vectors: np.ndarray, labels: np.ndarray, metric: Metric = "ip") -> AnnIndex:
        """An index of ``vectors`` ``(N, D)`` labelled ``labels`` ``(N,)`` int64."""
        import faiss

        x = _prepared(vectors, metric)
        n, d = x.shape
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))  # faiss wants ~39 points per cell
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = x if n <= 64 * nlist else x[rng.choice(n, 64 * nlist, replace=False)]
        index.train(sample)
        index.add(x)
        share = int(np.ceil(nlist * cls.PROBE_SHARE))
        index.nprobe = min(nlist, max(cls.MIN_PROBE, min(cls.MAX_PROBE, share)))
        return cls(_Shared(index, threading.Lock()), np.asarray(labels, np.int64).copy(), metric)

    @property
    def dim(self) -> int:
        return int(self._shared.index.d)

    def __len__(self) -> int:
        return int(np.count_nonzero(self.labels >= 0))

    def added(self, vectors: np.ndarray, labels: np.ndarray) -> AnnIndex:
        """A wrapper that also finds ``vectors`` ``(M, D)`` under ``labels`` ``(M,)`` (a new
        or changed item: an older row under the same label stays, and callers score what the
        index returns against the current vectors). This wrapper is unchanged."""
        x = _prepared(vectors, self.metric)
        with self._shared.lock:
            start = int(self._shared.index.ntotal)
            self._shared.index.add(x)
        gap = np.full(start - len(self.labels), -1, np.int64)  # rows other wrappers added
        mine = np.concatenate([self.labels, gap, np.asarray(labels, np.int64)])
        return AnnIndex(self._shared, mine, self.metric)

    def relabelled(self, mapping: np.ndarray) -> AnnIndex:
        """Labels ``mapping[label]`` (``-1``: dropped), sharing the faiss index."""
        ok = self.labels >= 0
        out = np.full(len(self.labels), -1, np.int64)
        out[ok] = np.asarray(mapping, np.int64)[self.labels[ok]]
        return AnnIndex(self._shared, out, self.metric)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` labels per query ``(B, D)``, best first: ``(B, k)`` labels (``-1``
        where fewer were found) and their inner products (approximate order, exact values
        of the stored rows)."""
        import faiss

        q = _prepared(np.atleast_2d(queries), self.metric)
        index = self._shared.index
        k = max(1, min(k, int(index.ntotal)))
        # asked for every row (a small catalog's top 1,000): every cell, so none is missed
        params = faiss.SearchParametersIVF()
        params.nprobe = index.nlist if k >= index.ntotal else index.nprobe
        with self._shared.lock:
            scores, rows = index.search(q, k, params=params)
        known = (rows >= 0) & (rows < len(self.labels))
        labels = np.where(known, self.labels[np.where(known, rows, 0)], -1)
        return labels.astype(np.int64), np.where(labels >= 0, scores, -np.inf).astype(np.float32)

    def save(self, path: Path) -> None:
        """One ``.npz`` file (faiss' own serialisation as bytes, the labels, the metric);
        readable with ``allow_pickle=False``."""
        import faiss

        with self._shared.lock:
            raw = faiss.serialize_index(self._shared.index)
        with open(path, "wb") as f:  # np.savez would append .npz to a name without it
            np.savez(f, index=raw, labels=self.labels, metric=np.array(self.metric))

    @classmethod
    def load(cls, path: Path) -> AnnIndex:
        import faiss

        with np.load(path, allow_pickle=False) as z:
            index = faiss.deserialize_index(z["index"])
            labels, metric = z["labels"].astype(np.int64), str(z["metric"])
        if metric not in ("ip", "cosine"):
            raise ValueError(f"{path}: unknown metric {metric!r}")
        return cls(_Shared(index, threading.Lock()), labels, metric)  # type: ignore[arg-type]

    # a bundle aligned in another process comes back pickled: send faiss' bytes, not the lock
    def __getstate__(self) -> dict:
        import faiss

        with self._shared.lock:
            raw = faiss.serialize_index(self._shared.index)
        return {"raw": raw, "labels": self.labels, "metric": self.metric}

    def __setstate__(self, state: dict) -> None:
        import faiss

        index = faiss.deserialize_index(state["raw"])
        self._shared = _Shared(index, threading.Lock())
        self.labels, self.metric = state["labels"], state["metric"]


def _prepared(vectors: np.ndarray, metric: Metric) -> np.ndarray:
    x = np.ascontiguousarray(vectors, np.float32)
    if metric != "cosine":
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.where(norms > 0, norms, 1.0), np.float32)
