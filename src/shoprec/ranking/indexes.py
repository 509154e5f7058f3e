"""The bundle's approximate indexes (:mod:`shoprec.compute.ann`), for catalogs of at least
``SHOPREC_ANN_MIN_ITEMS`` items: one over the text vectors (item-to-item text neighbours,
semantic search) and one over the sequence model's item vectors (its catalog retrieval).

Both are labelled by catalog index. The sequence index holds ``[item vector, bias]`` rows, so
that the inner product with ``[user vector / temperature, 1]`` is the model's score before
the text lift (which touches only the latest item's text neighbours, added to the candidates
exactly). Below the threshold a bundle has no index and every path is the exact scan.
"""

from __future__ import annotations

import numpy as np

from shoprec.compute.ann import AnnIndex, wanted
from shoprec.models.sasrec_infer import SASRecEncoder

#: The indexes a bundle may hold, by name (the bundle folder's ``ann/<name>.npz``).
NAMES = ("text", "seq")


def seq_rows(encoder: SASRecEncoder, rows: np.ndarray) -> np.ndarray:
    """``(R, C + 1)`` the sequence index's vectors of catalog ``rows``: item vector, bias."""
    bias = np.zeros(len(rows), np.float32) if encoder.bias is None else encoder.bias[rows]
    return np.hstack([encoder.items[rows], bias[:, None]]).astype(np.float32)


def seq_query(encoder: SASRecEncoder, user: np.ndarray) -> np.ndarray:
    """``(C + 1,)`` the query of a user vector ``(C,)`` against :func:`seq_rows`."""
    u = np.asarray(user, np.float32) / np.float32(encoder.temperature)
    return np.append(u, np.float32(1.0))


def build(
    vectors: np.ndarray,
    encoder: SASRecEncoder | None,
    saved: dict[str, AnnIndex] | None = None,
    threshold: int | None = None,
    names: tuple[str, ...] = NAMES,
) -> dict[str, AnnIndex]:
    """The indexes of a catalog whose text vectors are ``vectors`` ``(N + 1, D)`` (none below
    the threshold): ``saved`` ones (already labelled by this catalog's indices) completed with
    the rows they lack, else built."""
    n = len(vectors)
    if not wanted(n - 1, threshold):
        return {}
    saved = saved or {}
    rows = np.arange(1, n)
    out: dict[str, AnnIndex] = {}
    makers = {"text": (lambda r: vectors[r], "cosine")}
    if encoder is not None:
        makers["seq"] = (lambda r: seq_rows(encoder, r), "ip")
    for name, (rows_of, metric) in makers.items():
        if name not in names:
            continue
        old = saved.get(name)
        if old is None:
            out[name] = AnnIndex.build(rows_of(rows), rows, metric)  # type: ignore[arg-type]
            continue
        missing = np.setdiff1d(rows, old.labels)
        out[name] = old.added(rows_of(missing), missing) if len(missing) else old
    return out


def grown(
    indexes: dict[str, AnnIndex], name: str, vectors: np.ndarray, new: np.ndarray
) -> dict[str, AnnIndex]:
    """``indexes`` whose ``name`` index (if any) also holds the catalog rows ``new`` (upserted
    since it was built) under their vectors ``(len(new), D)``."""
    if name not in indexes or not len(new):
        return indexes
    return indexes | {name: indexes[name].added(vectors, new)}


def restated(indexes: dict[str, AnnIndex], vectors: np.ndarray, rows: np.ndarray) -> dict:
    """``indexes`` whose text index also holds the current vectors of catalog ``rows`` where
    it does not find them under their own label (an item whose text changed since it was
    indexed; the old row stays, and every caller scores answers against current vectors)."""
    text = indexes.get("text")
    rows = np.asarray(rows, np.int64)
    rows = rows[rows > 0]
    if text is None or not len(rows):
        return indexes
    found, _ = text.search(vectors[rows], 8)
    stale = rows[~(found == rows[:, None]).any(axis=1)]
    return grown(indexes, "text", vectors[stale], stale)


def relabelled(indexes: dict[str, AnnIndex], items: list[str], catalog_index: dict) -> dict:
    """Saved ``indexes`` labelled by the indices of the catalog they were built on (``items``:
    its ids, row 0 padding) relabelled to another catalog's (``catalog_index``: id -> index);
    items it no longer holds are dropped."""
    mapping = np.array([0] + [catalog_index.get(x, -1) for x in items[1:]], np.int64)
    return {name: idx.relabelled(mapping) for name, idx in indexes.items()}


def seq_candidates(
    encoder: SASRecEncoder, index: AnnIndex, user: np.ndarray, latest: int, k: int, n: int
) -> np.ndarray:
    """Catalog rows (``1 .. n - 1``, unique) the sequence model may rank in its top ``k`` for
    ``user`` whose latest item is ``latest``: the index's ``k`` best before the text lift, and
    the latest item's text neighbours (the lift's only targets)."""
    found, _ = index.search(seq_query(encoder, user)[None], k)
    parts = [found[0]]
    if encoder.text_lift is not None and latest > 0:
        parts.append(encoder.text_lift[1][latest])
    ids = np.unique(np.concatenate(parts))
    return ids[(ids > 0) & (ids < n)]
