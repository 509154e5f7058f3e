"""Human-readable item tags (category, department, brand, price band) for profiles and
explanations.

Catalogs with a category path use it as is. Catalogs with titles only (Amazon Beauty) get a
zero-shot category: each leaf of :data:`TAXONOMY` is embedded with the same pretrained encoder
as the items, and an item takes the leaf whose label vector is closest to its text vector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from shoprec.data.records import Item

#: Broad department -> specific leaf categories. Leaf names are shown to people, so they are
#: plain words; each leaf appears once. Beauty is covered in depth, other shops coarsely.
TAXONOMY: dict[str, list[str]] = {
    "Skin care": [
        "Face moisturizer",
        "Facial cleanser",
        "Face serum",
        "Sunscreen",
        "Face mask",
        "Eye cream",
        "Toner",
        "Acne treatment",
        "Exfoliator and face scrub",
        "Anti-aging cream",
        "Makeup remover",
        "Lip balm",
        "Self-tanner",
        "Skin care tools",
    ],
    "Makeup": [
        "Foundation",
        "Concealer",
        "Face powder",
        "BB cream and tinted moisturizer",
        "Makeup primer",
        "Blush",
        "Bronzer",
        "Highlighter",
        "Lipstick",
        "Lip gloss",
        "Mascara",
        "Eyeliner",
        "Eyeshadow",
        "Eyebrow makeup",
        "False eyelashes",
        "Makeup brushes",
        "Makeup sponges",
        "Makeup sets and palettes",
    ],
    "Nail care": [
        "Nail polish",
        "Gel nail polish",
        "Nail art",
        "Nail polish remover",
        "Artificial nails",
        "Nail care tools",
        "UV nail lamps",
        "Foot care",
    ],
    "Hair care": [
        "Shampoo",
        "Conditioner",
        "Hair styling products",
        "Hair color",
        "Hair treatment and oils",
        "Hair loss treatment",
        "Hair dryers",
        "Flat irons",
        "Curling irons",
        "Hair brushes and combs",
        "Hair accessories",
        "Wigs and hair extensions",
    ],
    "Fragrance": ["Perfume for women", "Cologne for men", "Unisex fragrance", "Body mist"],
    "Bath & body": [
        "Body wash",
        "Body lotion",
        "Bar soap",
        "Bath salts and bath bombs",
        "Body scrub",
        "Hand cream",
        "Body oil",
        "Deodorant",
        "Bath sponges and loofahs",
        "Hair removal and waxing",
        "Essential oils and aromatherapy",
    ],
    "Men's grooming": [
        "Shaving cream",
        "Razors",
        "Aftershave",
        "Beard care",
        "Electric shavers and trimmers",
    ],
    "Tools & accessories": [
        "Cosmetic bags and cases",
        "Tweezers",
        "Makeup mirrors",
        "Makeup organizers",
    ],
    "Oral care": ["Toothpaste", "Toothbrushes", "Teeth whitening", "Mouthwash"],
    "Health & wellness": ["Vitamins and supplements", "Weight loss and protein", "Massagers"],
    "Electronics": ["Smartphones", "Headphones", "Laptops"],
    "Clothing & jewelry": ["Dresses", "Shoes", "Jewelry"],
    "Home & kitchen": ["Cookware", "Bedding", "Home decor and candles"],
    "Toys & games": ["Board games", "Dolls and action figures"],
    "Sports & outdoors": ["Fitness equipment", "Camping gear"],
    "Books": ["Fiction books", "Children's books"],
    "Grocery": ["Snacks", "Coffee and tea", "Spices and cooking ingredients"],
}

#: Extra words for the prompt of a leaf (synonyms, typical products); never shown to people.
HINTS: dict[str, str] = {
    "Face moisturizer": "face cream, day cream, night cream, facial moisturizer",
    "Facial cleanser": "face wash, foaming facial cleanser",
    "Face serum": "facial serum, vitamin C serum, hyaluronic acid",
    "Sunscreen": "sunscreen lotion, sunblock SPF",
    "Face mask": "facial mask, clay mask, sheet mask",
    "Eye cream": "under eye cream, eye gel for dark circles",
    "Toner": "facial toner, astringent",
    "Acne treatment": "acne spot treatment, blemish control",
    "Exfoliator and face scrub": "facial exfoliator, face scrub, peel",
    "Anti-aging cream": "anti-wrinkle cream, firming face cream",
    "Makeup remover": "makeup remover wipes, cleansing oil",
    "Lip balm": "lip balm, lip treatment, lip plumper",
    "Self-tanner": "self tanner, sunless tanning lotion, tanning spray",
    "Skin care tools": "derma roller, facial cleansing brush, microdermabrasion device",
    "BB cream and tinted moisturizer": "BB cream, CC cream, tinted moisturizer",
    "Face powder": "setting powder, pressed powder, loose powder",
    "Blush": "blush, cheek color, rouge",
    "Bronzer": "bronzer, bronzing powder, contour",
    "Highlighter": "highlighter, luminizer, shimmer",
    "Eyebrow makeup": "eyebrow pencil, brow powder, brow gel",
    "False eyelashes": "false eyelashes, lash extensions, lash glue",
    "Makeup brushes": "makeup brush set, foundation brush, kabuki brush",
    "Makeup sponges": "makeup sponge, beauty blender, cosmetic wedges",
    "Makeup sets and palettes": "makeup kit, makeup gift set, cosmetics palette",
    "Nail polish": "nail polish, nail lacquer, nail color",
    "Gel nail polish": "UV gel nail polish, soak off gel",
    "Nail art": "nail art decals, rhinestones, glitter, stamping plates",
    "Nail polish remover": "nail polish remover, acetone",
    "Artificial nails": "false nails, acrylic nail tips, press on nails",
    "Nail care tools": "nail clippers, nail file, cuticle pusher, manicure set",
    "UV nail lamps": "UV LED nail lamp, nail dryer",
    "Foot care": "foot file, callus remover, foot cream, pedicure",
    "Shampoo": "hair shampoo",
    "Conditioner": "hair conditioner, leave-in conditioner",
    "Hair styling products": "hair gel, mousse, hair spray, styling cream, pomade, texturizer",
    "Hair color": "hair dye, hair coloring kit",
    "Hair treatment and oils": "hair mask, hair oil, leave-in cream, keratin treatment",
    "Hair loss treatment": "hair regrowth, thinning hair, hair growth",
    "Hair dryers": "blow dryer, hair dryer",
    "Flat irons": "flat iron, hair straightener",
    "Curling irons": "curling iron, curling wand, hot rollers",
    "Hair brushes and combs": "hair brush, comb, detangler",
    "Hair accessories": "hair clips, hair ties, headbands, barrettes, bun maker",
    "Wigs and hair extensions": "wig, clip-in hair extensions, hairpiece",
    "Perfume for women": "women's perfume, eau de parfum spray",
    "Cologne for men": "men's cologne, eau de toilette for men",
    "Unisex fragrance": "unisex perfume, eau de toilette",
    "Body mist": "body spray, fragrance mist",
    "Body wash": "body wash, shower gel",
    "Body lotion": "body lotion, body butter, body cream",
    "Bar soap": "bar soap, handmade soap",
    "Bath salts and bath bombs": "bath salts, bath bombs, bubble bath",
    "Body scrub": "body scrub, sugar scrub, salt scrub",
    "Hand cream": "hand cream, hand lotion for dry cracked hands",
    "Body oil": "body oil, massage oil, jojoba oil, almond oil",
    "Deodorant": "deodorant, antiperspirant",
    "Bath sponges and loofahs": "loofah, bath sponge, shower pouf, exfoliating gloves",
    "Hair removal and waxing": "wax, depilatory cream, epilator",
    "Essential oils and aromatherapy": "essential oil, aromatherapy diffuser oil",
    "Shaving cream": "shaving cream, shave gel",
    "Razors": "razor, razor blades, safety razor",
    "Aftershave": "aftershave, after shave balm, bay rum",
    "Beard care": "beard oil, beard balm, mustache wax",
    "Electric shavers and trimmers": "electric shaver, beard trimmer, hair clippers",
    "Cosmetic bags and cases": "makeup bag, cosmetic case, travel bag",
    "Makeup mirrors": "vanity mirror, compact mirror, lighted mirror",
    "Makeup organizers": "makeup organizer, cosmetic storage box",
    "Vitamins and supplements": "vitamins, dietary supplement capsules",
    "Weight loss and protein": "diet pills, fat burner, protein powder",
    "Massagers": "massager, massage tool",
}

#: Prompt templates averaged into one vector per leaf (prompt ensembling). On Amazon Beauty
#: the ensemble (with :data:`HINTS`) beat every single template on keyword-labelled leaves.
TEMPLATES: tuple[str, ...] = (
    "a product in the category {leaf}",
    "{leaf}, a {department} product",
    "{department} > {leaf}",
    "this is a {leaf} product",
)

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
