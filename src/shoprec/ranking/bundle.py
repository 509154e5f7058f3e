"""The trained artifacts the pipeline reads, aligned to the live catalog's id space.

A :class:`ModelBundle` is immutable once built: hot reload builds a new one and swaps a
single reference, so a request in flight finishes on the bundle it started with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from shoprec.compute.ann import AnnIndex
from shoprec.models.itemknn import ItemKNN
from shoprec.models.ranker import Ranker
from shoprec.models.sasrec_infer import SASRecEncoder
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.models.scoring import TEXT_K, text_neighbours
from shoprec.ranking import indexes as ann
from shoprec.ranking.catalog import Catalog

log = logging.getLogger(__name__)

#: Neighbours kept per item for the co-visitation and text-similarity candidate sources (the
#: same count as the sequence model's text lift, so serving adds that term from this table).
N_NEIGHBOURS = TEXT_K


@dataclass
class ModelBundle:
    """Everything trained, in catalog indices (row ``i`` = catalog index ``i``).

    Attributes
    ----------
    version : the artifact version (manifest hash) or ``"none"``.
    encoder : the sequence model's numpy user encoder over catalog indices, or None.
    covis_ids, covis_sims : ``(N + 1, K)`` co-visitation neighbours (item-kNN), 0-padded.
    text_ids, text_sims : ``(N + 1, K)`` text-vector neighbours.
    popularity : ``(N + 1,)`` training interaction counts (0 for items added later).
    ranker : the candidate ranker (None: a fixed blend).
    n_rows : catalog rows covered (items upserted later are added by :meth:`extend`).
    indexes : the approximate indexes (``"text"``, ``"seq"``; :mod:`.indexes`) of a catalog of
        at least ``SHOPREC_ANN_MIN_ITEMS`` items, labelled by catalog index; empty below it.
    """

    version: str
    encoder: SASRecEncoder | None
    covis_ids: np.ndarray
    covis_sims: np.ndarray
    text_ids: np.ndarray
    text_sims: np.ndarray
    popularity: np.ndarray
    ranker: Ranker | None
    n_rows: int
    meta: dict = field(default_factory=dict)
    indexes: dict[str, AnnIndex] = field(default_factory=dict)


def _align(model_ids: list[str], catalog: Catalog) -> np.ndarray:
    """Catalog index of each model row (row 0 = padding -> 0); -1 where the catalog lacks it."""
    return np.array([0] + [catalog.index.get(x, -1) for x in model_ids], np.int64)


def build_bundle(
    catalog: Catalog,
    sasrec: SASRecRecommender | None,
    itemknn: ItemKNN | None,
    ranker: Ranker | None,
    model_item_ids: list[str],
    popularity: np.ndarray | None = None,
    version: str = "none",
    saved_indexes: dict[str, AnnIndex] | None = None,
) -> ModelBundle:
    """Align fitted models (internal ids = positions in ``model_item_ids``, ``popularity``
    ``(n_model_items + 1,)`` training counts) to ``catalog``. ``saved_indexes``: a saved
    bundle's indexes, already labelled by ``catalog``'s indices (completed, not rebuilt)."""
    n = len(catalog) + 1
    to_cat = _align(model_item_ids, catalog)
    ok = to_cat > 0
    vectors = catalog.view().vectors
    encoder = None
    # the text index needs no model: built first, it serves the neighbour tables below
    found = ann.build(vectors, None, saved_indexes, names=("text",))
    t_ids, t_sims = text_neighbours(vectors, np.arange(n), index=found.get("text"))
    if sasrec is not None:
        base = SASRecEncoder(sasrec.model_)
        items = np.zeros((n, base.dim), np.float32)
        from_text = base.text_item_vectors(vectors)
        if from_text is not None:
            items[:] = from_text  # items the model never saw: their text alone
        items[to_cat[ok]] = base.items[np.flatnonzero(ok)]
        items[0] = 0.0
        bias = None
        model_bias = sasrec.score_bias()
        if model_bias is not None:
            # an item the model never saw counts as never seen (the largest lift)
            bias = np.full(n, float(model_bias.max()), np.float32)
            bias[to_cat[ok]] = model_bias[np.flatnonzero(ok)]
        encoder = base.with_items(items, bias, (sasrec.text_lift_, t_ids, t_sims))
    covis_ids = np.zeros((n, N_NEIGHBOURS), np.int64)
    covis_sims = np.zeros((n, N_NEIGHBOURS), np.float32)
    pop = np.zeros(n, np.float64)
    if popularity is not None:
        pop[to_cat[ok]] = np.asarray(popularity, np.float64)[np.flatnonzero(ok)]
    if itemknn is not None:
        rows = np.flatnonzero(ok)
        nb, sim = itemknn.similar_items(rows, N_NEIGHBOURS)
        mapped = np.where(sim > 0, np.maximum(to_cat[nb], 0), 0)
        k = mapped.shape[1]  # fewer than N_NEIGHBOURS in a catalog that small
        covis_ids[to_cat[rows], :k] = mapped
        covis_sims[to_cat[rows], :k] = np.where(mapped > 0, sim, 0.0)
    if encoder is not None and found:
        found |= ann.build(vectors, encoder, saved_indexes, names=("seq",))
    return ModelBundle(
        version=version,
        encoder=encoder,
        covis_ids=covis_ids,
        covis_sims=covis_sims,
        text_ids=t_ids,
        text_sims=t_sims,
        popularity=pop,
        ranker=ranker,
        n_rows=n,
        indexes=found,
    )


def extend(bundle: ModelBundle, catalog: Catalog) -> ModelBundle:
    """A bundle that also covers items upserted since it was built (text vectors only)."""
    n = len(catalog) + 1
    if n <= bundle.n_rows:
        return bundle
    vectors = catalog.view().vectors
    new = np.arange(bundle.n_rows, n)
    indexes = ann.grown(bundle.indexes, "text", vectors[new], new)
    t_ids, t_sims = text_neighbours(vectors, new, index=indexes.get("text"))
    text_ids, text_sims = np.vstack([bundle.text_ids, t_ids]), np.vstack([bundle.text_sims, t_sims])
    encoder = bundle.encoder
    if encoder is not None:
        extra = encoder.text_item_vectors(vectors[new])
        if extra is None:
            extra = np.zeros((len(new), encoder.dim), np.float32)
        bias = encoder.bias
        if bias is not None:
            bias = np.concatenate([bias, np.full(len(new), bias.max(), np.float32)])
        # a new item's text lift applies when it is the latest item (older rows keep theirs)
        lift = None if encoder.text_lift is None else (encoder.text_lift[0], text_ids, text_sims)
        encoder = encoder.with_items(np.vstack([encoder.items, extra]), bias, lift)
        indexes = ann.grown(indexes, "seq", ann.seq_rows(encoder, new), new)
    pad = np.zeros((len(new), bundle.covis_ids.shape[1]))
    return ModelBundle(
        version=bundle.version,
        encoder=encoder,
        covis_ids=np.vstack([bundle.covis_ids, pad.astype(np.int64)]),
        covis_sims=np.vstack([bundle.covis_sims, pad.astype(np.float32)]),
        text_ids=text_ids,
        text_sims=text_sims,
        popularity=np.concatenate([bundle.popularity, np.zeros(len(new))]),
        ranker=bundle.ranker,
        n_rows=n,
        meta=bundle.meta,
        indexes=indexes,
    )


def restate(bundle: ModelBundle, catalog: Catalog, rows: np.ndarray) -> ModelBundle:
    """``bundle`` whose text index (if any) finds catalog ``rows`` (just upserted, within the
    bundle) by their current text: an item whose text changed is added to it online."""
    if "text" not in bundle.indexes:
        return bundle
    rows = np.asarray(rows, np.int64)
    rows = rows[rows < bundle.n_rows]
    return replace(bundle, indexes=ann.restated(bundle.indexes, catalog.view().vectors, rows))


def neighbours(bundle: ModelBundle, idx: int, n: int) -> list[tuple[int, float, str]]:
    """Up to ``n`` items like ``idx``: co-visitation neighbours first (``"covis"``), then text
    neighbours (``"text"``), as ``(index, similarity, source)``."""
    out: list[tuple[int, float, str]] = []
    if not 0 < idx < bundle.n_rows:
        return out
    seen = {idx}
    for ids, sims, source in (
        (bundle.covis_ids[idx], bundle.covis_sims[idx], "covis"),
        (bundle.text_ids[idx], bundle.text_sims[idx], "text"),
    ):
        for j, s in zip(ids.tolist(), sims.tolist(), strict=True):
            if len(out) >= n:
                return out
            if j > 0 and j not in seen and s > 0:
                out.append((j, float(s), source))
                seen.add(j)
    return out
