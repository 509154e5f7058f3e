"""Human-readable item tags (category, department, brand, price band) for profiles and
explanations.

Catalogs with a category path use it as is. Catalogs with titles only (Amazon Beauty) get a
zero-shot category: each leaf of :data:`~shoprec.online.taxonomy.TAXONOMY` is embedded with the
same pretrained encoder as the items, and an item takes the leaf whose label vector is closest
to its text vector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from shoprec.data.records import Item
from shoprec.online.taxonomy import HINTS, TAXONOMY, TEMPLATES

#: Price bands, cheapest first.
PRICE_BANDS: tuple[str, str, str] = ("budget", "mid-range", "premium")


class Encoder(Protocol):
    """Anything that embeds texts as L2-normalised rows (e.g. :class:`TextEncoder`)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class ItemTags:
    """The readable tags of one item.

    Attributes
    ----------
    category : leaf category (``"Nail polish"``), or None when unknown or not confident.
    department : broad department (``"Nail care"``), or None.
    brand : brand from the catalog, or None (brands are never guessed).
    price_band : ``"budget"``, ``"mid-range"`` or ``"premium"``, or None without a price.
    confidence : cosine of the zero-shot match; 1.0 for catalog categories, 0.0 for none.
    """

    category: str | None = None
    department: str | None = None
    brand: str | None = None
    price_band: str | None = None
    confidence: float = 0.0

    def labels(self) -> list[str]:
        """Profile keys, e.g. ``["department:Nail care", "category:Nail polish",
        "brand:OPI", "price:premium"]`` (absent tags are left out)."""
        pairs = (
            ("department", self.department),
            ("category", self.category),
            ("brand", self.brand),
            ("price", self.price_band),
        )
        return [f"{key}:{value}" for key, value in pairs if value]


class ItemTagger:
    """Zero-shot leaf categories from item text vectors.

    Parameters
    ----------
    encoder : embeds the prompted leaf labels; must be the encoder that made the item vectors.
    taxonomy : department -> leaves; leaf names must be unique.
    templates : prompts with a ``{leaf}`` (and optionally ``{department}``) field; the label
        vector of a leaf is the normalised mean over templates.
    hints : leaf -> extra prompt words (default :data:`HINTS`; ``{}`` for bare leaf names).
    leaf_threshold : minimum cosine to keep the leaf.
    department_threshold : minimum cosine of the best leaf to keep at least the department.
    """

    def __init__(
        self,
        encoder: Encoder,
        taxonomy: dict[str, list[str]] | None = None,
        templates: Sequence[str] = TEMPLATES,
        hints: dict[str, str] | None = None,
        leaf_threshold: float = 0.4,
        department_threshold: float = 0.3,
    ) -> None:
        taxonomy = TAXONOMY if taxonomy is None else taxonomy
        self.leaves = [leaf for leaves in taxonomy.values() for leaf in leaves]
        if len(set(self.leaves)) != len(self.leaves):
            raise ValueError("taxonomy leaf names must be unique")
        if not self.leaves or not templates:
            raise ValueError("need at least one leaf and one template")
        self.departments = [dep for dep, leaves in taxonomy.items() for _ in leaves]
        self.encoder = encoder
        self.leaf_threshold = leaf_threshold
        self.department_threshold = department_threshold
        hints = HINTS if hints is None else hints
        terms = [
            f"{leaf.lower()} ({hints[leaf]})" if hints.get(leaf) else leaf.lower()
            for leaf in self.leaves
        ]
        prompts = [
            t.format(leaf=term, department=dep.lower())
            for t in templates
            for dep, term in zip(self.departments, terms, strict=True)
        ]
        vecs = np.asarray(encoder.encode(prompts), dtype=np.float32)
        vecs = vecs.reshape(len(templates), len(self.leaves), -1).mean(axis=0)
        #: ``(n_leaves, D)`` unit label vectors, in taxonomy order.
        self.label_vectors = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of each item (row of ``vectors``, unit length) to each leaf: ``(N, n_leaves)``."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.label_vectors.shape[1]:
            raise ValueError(f"expected (N, {self.label_vectors.shape[1]}), got {vectors.shape}")
        return vectors @ self.label_vectors.T

    def tag(self, vectors: np.ndarray) -> list[ItemTags]:
        """Best leaf and its department per item.

        Cosines are rounded to 1e-5 first, so float noise (batch composition) cannot flip a
        near-tie, and ties go to the leaf listed first in the taxonomy (``argmax`` takes the
        first maximum). A best cosine below ``leaf_threshold`` drops the leaf; below
        ``department_threshold`` it drops the department too. Zero vectors (empty texts) get
        no tags and confidence 0.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        sims = np.round(self.scores(vectors), 5)
        if sims.shape[0] == 0:
            return []
        best = np.argmax(sims, axis=1)
        conf = np.where(np.any(vectors != 0, axis=1), sims[np.arange(len(best)), best], 0.0)
        out = []
        for b, c in zip(best.tolist(), conf.tolist(), strict=True):
            keep_dep = c > 0 and c >= self.department_threshold
            out.append(
                ItemTags(
                    category=self.leaves[b] if keep_dep and c >= self.leaf_threshold else None,
                    department=self.departments[b] if keep_dep else None,
                    confidence=round(float(c), 4),
                )
            )
        return out

    def tag_texts(self, texts: Sequence[str]) -> list[ItemTags]:
        """Convenience: encode ``texts`` with the tagger's encoder and :meth:`tag` them."""
        return self.tag(np.asarray(self.encoder.encode(list(texts)), dtype=np.float32))


def price_bands(
    prices: Sequence[float | None], groups: Sequence[object], min_group: int = 10
) -> list[str | None]:
    """Tercile price band per item within its group, or global terciles for small groups.

    Parameters
    ----------
    prices : price per item, None (or NaN) when unknown.
    groups : group key per item (its category). Items of a group with fewer than ``min_group``
        priced items, or of group None, are banded by the terciles of all priced items; with
        fewer than ``min_group`` priced items in all, nothing is banded (terciles of a handful
        of prices, e.g. a one-item upsert, would mean nothing).

    Returns
    -------
    list of ``"budget"`` / ``"mid-range"`` / ``"premium"`` or None (no price).
    """
    price = np.array([np.nan if p is None else float(p) for p in prices], dtype=np.float64)
    priced = np.isfinite(price)
    out: list[str | None] = [None] * len(price)
    if priced.sum() < min_group:
        return out
    members: dict[object, list[int]] = defaultdict(list)
    for i in np.flatnonzero(priced).tolist():
        members[groups[i]].append(i)
    global_cuts = np.quantile(price[priced], [1 / 3, 2 / 3])
    for group, idx in members.items():
        small = group is None or len(idx) < min_group
        cuts = global_cuts if small else np.quantile(price[idx], [1 / 3, 2 / 3])
        for i in idx:
            out[i] = PRICE_BANDS[int(np.searchsorted(cuts, price[i], side="left"))]
    return out


def tags_for_catalog(
    items: Sequence[Item], vectors: np.ndarray | None, tagger: ItemTagger | None
) -> list[ItemTags]:
    """Tags for a catalog: its own category path where present, zero-shot elsewhere.

    Parameters
    ----------
    items : the catalog.
    vectors : ``(len(items), D)`` text vectors aligned with ``items`` (drop the padding row of
        :func:`~shoprec.training.sasrec_job.text_vectors_for` first); may be None when
        ``tagger`` is None.
    tagger : zero-shot tagger for items without a category, or None to leave them untagged.

    Returns
    -------
    One :class:`ItemTags` per item. A catalog path gives its deepest level as the category and
    its first level as the department (confidence 1.0). Price bands are terciles within the
    item's category (catalog or zero-shot leaf), global terciles when it has < 10 priced items,
    none when ``items`` hold < 10 prices: bands are relative to the items passed in.
    """
    paths = [tuple(c.strip() for c in it.category if c and c.strip()) for it in items]
    todo = [i for i, path in enumerate(paths) if not path]
    zero_shot: dict[int, ItemTags] = {}
    if tagger is not None and todo:
        if vectors is None or len(vectors) != len(items):
            got = None if vectors is None else len(vectors)
            raise ValueError(f"need one vector per item ({len(items)}), got {got}")
        vecs = np.asarray(vectors)[todo]
        zero_shot = dict(zip(todo, tagger.tag(vecs), strict=True))
    base: list[ItemTags] = []
    for i, path in enumerate(paths):
        base.append(
            ItemTags(path[-1], path[0], None, None, 1.0) if path else zero_shot.get(i, ItemTags())
        )
    groups = [path or t.category for path, t in zip(paths, base, strict=True)]
    bands = price_bands([it.price for it in items], groups)
    return [
        ItemTags(t.category, t.department, it.brand.strip() or None, band, t.confidence)
        for it, t, band in zip(items, base, bands, strict=True)
    ]
