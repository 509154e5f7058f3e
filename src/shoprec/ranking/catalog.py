"""The live catalog: items by internal index (1..n; 0 = padding) with their text vectors,
prices, stock, arrival time and tags, as numpy arrays the pipeline reads without copying.

The catalog owns the serving id space. Trained models carry their own item id lists and are
aligned to it on load; an item upserted after training gets its text vector at once and is
scored through it (see :mod:`shoprec.ranking.bundle`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from shoprec.data.records import Item
from shoprec.online.tags import ItemTagger, ItemTags, tags_for_catalog

TEXT_DIM = 384


class CatalogView(NamedTuple):
    """The catalog's per-item arrays, row ``i`` = index ``i`` (row 0 padding)."""

    vectors: np.ndarray  # (rows, 384) L2-normalised text vectors
    price: np.ndarray  # NaN where unpriced
    in_stock: np.ndarray  # bool
    added_at: np.ndarray  # first upsert time

    def head(self, rows: int) -> CatalogView:
        """The first ``rows`` rows of every array (views, no copy)."""
        return CatalogView(
            self.vectors[:rows], self.price[:rows], self.in_stock[:rows], self.added_at[:rows]
        )


class LabelIndex:
    """Every item's tag labels as a padded ``(rows, width)`` matrix of label ids (-1 = none),
    so a shopper's affinity to a few hundred candidates is one gather, not a Python loop."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.names: list[str] = []
        self.ids = np.full((16, 4), -1, np.int32)

    def set(self, idx: int, labels: Sequence[str]) -> None:
        for lab in labels:
            if lab not in self.vocab:
                self.vocab[lab] = len(self.names)
                self.names.append(lab)
        rows, width = self.ids.shape
        if idx >= rows or len(labels) > width:
            grown = np.full((max(rows, 2 * idx + 1), max(width, len(labels))), -1, np.int32)
            grown[:rows, :width] = self.ids
            self.ids = grown
        self.ids[idx] = -1
        self.ids[idx, : len(labels)] = [self.vocab[lab] for lab in labels]

    def affinity(
        self, items: np.ndarray, interests: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per item: the summed interest weight of its labels, and the id of its label of
        highest weight (-1 when none is positive; ties go to the item's first such label).
        Ids, not names: a request names the labels of the twenty items it shows only
        (:meth:`name`)."""
        w = np.zeros(len(self.names) + 1)  # the last slot stays 0: padding (-1) reads it
        vocab = self.vocab
        for lab, wt in interests.items():
            j = vocab.get(lab)
            if j is not None:
                w[j] = wt
        ids = self.ids[items]
        vals = w[ids]
        rows = np.arange(len(items))
        best = vals.argmax(axis=1)
        chosen = np.where(vals[rows, best] > 0, ids[rows, best], -1)
        return vals.sum(axis=1), chosen

    def name(self, label_id: int) -> str:
        """The label of ``label_id`` ("" for -1)."""
        return self.names[label_id] if label_id >= 0 else ""


class Catalog:
    """Growable arrays over internal indices; writes are serialised by a lock, reads are not
    (a reader sees either the old or the new arrays, both consistent up to their length)."""

    def __init__(self) -> None:
        self.ids: list[str] = [""]  # ids[i] is the external id of index i
        self.index: dict[str, int] = {}
        self.items: list[Item | None] = [None]
        self.tags: list[ItemTags | None] = [None]
        self.labels: list[tuple[str, ...]] = [()]
        self.label_index = LabelIndex()  # the same labels as a matrix, for the hot path
        self._cap = 16
        self.vectors = np.zeros((self._cap, TEXT_DIM), np.float32)
        self.price = np.full(self._cap, np.nan)
        self.in_stock = np.zeros(self._cap, bool)
        self.added_at = np.zeros(self._cap)
        # stamp[i]: the generation (count of upserts) that last wrote row i, so an index over
        # the items (search's lexical one) re-reads only the rows changed since it last looked
        self.generation = 0
        self.stamp = np.zeros(self._cap, np.int64)
        self._lock = threading.Lock()
        self._by_name: dict[str, set[int]] = {}  # casefolded category name -> indices
        self._masks: dict[tuple[str, int], np.ndarray] = {}  # in_category's, until an upsert

    def __len__(self) -> int:
        """Number of items (indices 1..len)."""
        return len(self.ids) - 1

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.index

    def get(self, item_id: str) -> int:
        """Internal index of ``item_id`` or 0 when unknown."""
        return self.index.get(item_id, 0)

    def indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Internal indices of known ids (unknown ids dropped), int64."""
        get = self.index.get
        return np.fromiter((i for i in (get(x, 0) for x in item_ids) if i), np.int64)

    def upsert(
        self,
        items: Sequence[Item],
        vectors: np.ndarray,
        tags: Sequence[ItemTags],
        added_at: Sequence[float],
    ) -> np.ndarray:
        """Insert or update items (``vectors`` ``(N, 384)`` L2-normalised); returns their indices.

        An updated item keeps its index and its first ``added_at``.
        """
        with self._lock:
            self._masks = {}
            self.generation += 1
            out = np.zeros(len(items), np.int64)
            n_new = sum(1 for it in {i.item_id for i in items} if it not in self.index)
            self._grow(len(self.ids) + n_new)
            for k, item in enumerate(items):
                idx = self.index.get(item.item_id)
                old = self._names(idx) if idx is not None else set()
                if idx is None:
                    idx = len(self.ids)
                    self.ids.append(item.item_id)
                    self.items.append(item)
                    self.tags.append(tags[k])
                    self.labels.append(tuple(tags[k].labels()))
                    self.label_index.set(idx, self.labels[idx])
                    self.index[item.item_id] = idx
                    self.added_at[idx] = added_at[k]
                else:
                    self.items[idx] = item
                    self.tags[idx] = tags[k]
                    self.labels[idx] = tuple(tags[k].labels())
                    self.label_index.set(idx, self.labels[idx])
                self._index_names(idx, old)
                self.vectors[idx] = vectors[k]
                self.price[idx] = np.nan if item.price is None else item.price
                self.in_stock[idx] = item.in_stock
                self.stamp[idx] = self.generation  # last: a reader that sees it sees the row
                out[k] = idx
            return out

    def _names(self, idx: int) -> set[str]:
        item, tags = self.items[idx], self.tags[idx]
        names = set(item.category) if item else set()
        if tags:
            names |= {n for n in (tags.category, tags.department) if n}
        return {n.casefold() for n in names}

    def _index_names(self, idx: int, old: set[str]) -> None:
        for name in old:
            self._by_name.get(name, set()).discard(idx)
        for name in self._names(idx):
            self._by_name.setdefault(name, set()).add(idx)

    def in_category(self, category: str, n_rows: int) -> np.ndarray:
        """``(n_rows,)`` bool: items whose category path, derived category or department is
        ``category`` (case-insensitive)."""
        key = (category.casefold(), n_rows)
        mask = self._masks.get(key)
        if mask is None:  # built once per category until the catalog changes
            mask = np.zeros(n_rows, bool)
            members = [i for i in self._by_name.get(key[0], ()) if i < n_rows]
            mask[members] = True
            mask.flags.writeable = False
            if len(self._masks) >= 256:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap)
        for name, fill in (("vectors", 0.0), ("price", np.nan), ("in_stock", False), ("stamp", 0)):
            old = getattr(self, name)
            new = np.full((cap, *old.shape[1:]), fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)
        added = np.zeros(cap)
        added[: self._cap] = self.added_at
        self.added_at = added
        self._cap = cap

    # -- read helpers -----------------------------------------------------------------------
    def title(self, idx: int) -> str:
        item = self.items[idx]
        return (item.title or item.item_id) if item else ""

    def category_of(self, idx: int) -> str | None:
        """A human category name for explanations (catalog leaf, else the derived one)."""
        tags = self.tags[idx]
        return tags.category or tags.department if tags else None

    def view(self) -> CatalogView:
        """The item arrays trimmed to ``len + 1`` rows."""
        n = len(self.ids)
        return CatalogView(self.vectors[:n], self.price[:n], self.in_stock[:n], self.added_at[:n])

    def price_of(self, item_id: str) -> float:
        """The price of ``item_id`` (0 when unknown or unpriced): a purchase's revenue."""
        idx = self.get(item_id)
        price = float(self.price[idx]) if idx else 0.0
        return price if price == price else 0.0


def add_items(
    catalog: Catalog,
    items: Sequence[Item],
    added_at: Sequence[float],
    vectorize: Callable[[list[str]], np.ndarray],
    tagger: ItemTagger | None = None,
) -> np.ndarray:
    """Upsert ``items`` into ``catalog`` with their text vectors (``vectorize``) and tags (their
    own categories, ``tagger``'s zero-shot ones where they have none); returns their indices."""
    vectors = vectorize([it.text() for it in items])
    return catalog.upsert(items, vectors, tags_for_catalog(items, vectors, tagger), added_at)
