"""Readable item tags: zero-shot leaves from the real text encoder, catalog categories, price
terciles, profile-key labels, and department accuracy on hand-labelled Amazon Beauty titles."""

from __future__ import annotations

import collections
import random

import numpy as np
import pytest

from shoprec.data.interactions import SequenceData
from shoprec.data.records import Item
from shoprec.online.tags import ItemTagger, ItemTags, tags_for_catalog
from shoprec.online.taxonomy import TAXONOMY
from shoprec.text.encoder import TextEncoder

SK, MU, NC, HC, FR = "Skin care", "Makeup", "Nail care", "Hair care", "Fragrance"
BB, MG, TA, HW = "Bath & body", "Men's grooming", "Tools & accessories", "Health & wellness"

#: 80 Amazon Beauty items drawn with ``random.Random(2024).sample(range(12101), 80)`` over the
#: rows of ``items.csv``, labelled by hand from their titles. The first department is the one
#: this taxonomy files the product under; further ones are listed only where a shop could
#: reasonably file it elsewhere too (body lotion: bath & body or skin care). Both count as right.
HAND_LABELS: dict[str, tuple[str, ...]] = {
    "B000053L6W": (MG, FR),  # Clubman Pinaud Virgin Island Bay Rum
    "B001E96M58": (SK, BB),  # Purpose Gentle Cleansing Bar
    "B004DC3PSA": (NC,),  # Kleancolor Nail Lacquers 6 Colors
    "B0037MFCHE": (HC,),  # Conair Folding Handle Hair Dryer
    "B0013WFHAC": (MU,),  # Fran Wilson Instant Brows Arched
    "B00EYZY684": (HC,),  # Fekkai Prx Shampoo
    "B00H2TZ4F8": (SK,),  # Hyaluronic Acid Serum - Anti Aging Moisturizer
    "B008QMWUMK": (BB, SK),  # Seventh Generation Sensitive Care Lotion
    "B0034D3HIM": (NC,),  # Super Nail Pure Acetone Polish Remover
    "B002AMUICG": (BB,),  # Nature's Gate Velvet Moisture Body Wash
    "B0052T7V56": (MU, HC),  # Swiss O Par Eyelash and Brow Dye Tint Color Kit
    "B0030F4XJQ": (SK,),  # Murad Anti-Aging Moisturizer SPF 20
    "B006CD3FWO": (NC,),  # Nail Art Glitter Rhinestones
    "B002ULATWQ": (MU, TA),  # Bdellium Tools Makeup Brush Travel Line
    "B007JLUL1G": (SK, BB, HC),  # Jojoba Oil, Golden Organic
    "B008Q8XKL4": (HC,),  # Pantene Strengthening Shampoo
    "B005UKRRKG": (MU,),  # SHANY Eyeshadow Palette
    "B001J7CAA6": (SK, BB),  # SheerTan Sunless Tanning Wand and Spray
    "B007K1OB0M": (NC,),  # Acrylic Nail Art Glitter Powder
    "B00HV464QW": (MU,),  # The Balm Cindy-Lou Manizer (highlighter)
    "B0009OAIQI": (FR,),  # Design by Paul Sebastian Fine Parfum Spray
    "B002HZVOLA": (HC,),  # Eufora Sculpture Styling Glaze
    "B00655DP1K": (SK, BB),  # Devoted Creations Bronzer Tanning Lotion
    "B0047TMDCI": (MU,),  # FASH 42 Color Shadow and Blush
    "B003USIINU": (HC,),  # Clairol Nice 'N Easy Hair Color
    "B007ROCY2O": (HC,),  # Professional Salon Hair Steamer
    "B007RTR8A2": (HC,),  # CLEAR SCALP and HAIR Shampoo
    "B0034KYDSS": (MU,),  # SHANY Eyeshadow Kit
    "B001CMT83A": (SK,),  # Desert Essence Face Wash
    "B007YQURNS": (NC,),  # Sensationail Gel Polish
    "B003HGOIOS": (HC,),  # Eufora Beautifying Serum for Hair Skin and Scalp
    "B00EQBYSH0": (SK, BB),  # Anti Cellulite Cream
    "B00C0UQRHS": (BB, SK),  # Body Scrub
    "B00D6OEMBK": (MU, TA),  # PUEEN Travel Makeup Brush Set
    "B00518N0EO": (MU,),  # milani 01 black, 0.04oz
    "B002WQ93F8": (HC,),  # Conair Ceramic Curling Iron
    "B001V0OI4M": (SK,),  # Clean and Clear Makeup Dissolving Foaming Cleanser
    "B004HI5GOG": (MU,),  # Anastasia Beverly Hills Beauty Express - Blonde (brow kit)
    "B00CTKKE7I": (HW,),  # Designer Whey Protein Powder
    "B00081J4P8": (SK,),  # NO-AD Sunblock Lotion SPF 15
    "B00AREI4FC": (HC,),  # L'Oreal EverCurl Cleansing Conditioner
    "B0046MPZ4E": (MU,),  # Long False Eyelashes
    "B0071DQOXQ": (HC,),  # ENJOY Hair Care HAIR MASK
    "B0011292ZK": (MU,),  # Maybelline Expert Wear Eyeshadow Trios
    "B009PZF7WM": (HC,),  # Clip-on Hair Extension Wigs
    "B001EO5WWW": (SK, BB),  # St. Ives Cellulite Shield Gel Creme
    "B001U0OQN6": (SK,),  # Clearasil Acne Treatment Face Wash
    "B000R871A2": (HC,),  # Conair Ceramic Straightener
    "B001JQLNRI": (HC,),  # Pantene Smoothing Conditioner
    "B002V4RRQI": (MU, TA),  # Wonder Wedge Cosmetic Wedges
    "B000NBBN1G": (TA,),  # Double Vision Vanity and Suction Cup Mirror
    "B008RRV7R8": (HC,),  # Foam Sponge Hair Bun Former
    "B002BWOY1G": (SK,),  # Neutrogena Anti-Oxidant Booster Serum
    "B000TYGI3U": (HC,),  # Mizani Rose H2O Creme Conditioning Hairdress
    "B003TG9C74": (SK,),  # Proactiv Deep Cleansing Wash
    "B00853EU78": (MU,),  # e.l.f. Bronzing Powder
    "B000YZJMHS": (HC,),  # Motions Oil Moisturizer Hair Lotion
    "B002Y1Y1I0": (HC,),  # Light-Up Hair Barrette
    "B000052ZB2": (SK,),  # Neutrogena Extra Gentle Cleanser
    "B001KZ1AM6": (SK,),  # Proactiv Refining Mask
    "B000RGBWPO": (BB, SK),  # Palmers Cocoa Butter Jar
    "B003O5NGJK": (NC, BB, TA),  # Tweezerman Foot File
    "B000GHWSG6": (FR,),  # Euphoria by Calvin Klein Eau De Parfum
    "B002KMXO36": (NC,),  # essie nail colour Polish
    "B004LUVN10": (SK, TA),  # Micro Needle Roller Skin Care
    "B003CX2F96": (HW,),  # SlimQuick Fat Burner
    "B001RB59H0": (SK,),  # Anti Wrinkle Skin Cream Collagen
    "B0007LE3EG": (HC,),  # Total Hair Makeover Kit
    "B00152A0OI": (HC,),  # Joico Color Endure Violet Shampoo/Conditioner
    "B0063VG5UY": (SK,),  # Image Skincare Total Facial Cleanser
    "B00GZ18LL8": (SK,),  # Cetaphil Gentle Skin Cleansing Cloths
    "B006T8BWOK": (HC,),  # Dove Nourishing Oil Care Hair Therapy
    "B000IO6NFE": (SK,),  # La Roche-Posay Toleriane Fluid
    "B0046KN6FG": (HC,),  # It's a 10 Shampoo and Conditioner
    "B008DUCH4Q": (HC,),  # Garnier Fructis Anti-Breakage Spray Treatment
    "B003JA3KDW": (HC,),  # Pantene Moisture Renewal Conditioner
    "B006LUDGR2": (NC,),  # Kleancolor Neon Night Life mini collection
    "B001OXO6DO": (HC,),  # Paul Mitchell Extra Body Thicken Up
    "B0002260DW": (BB,),  # LUSH Sex Bomb Bath Bomb
    "B0019QL0OY": (NC,),  # Orly Nail Lacquer, Terracotta
}

OBVIOUS = [
    ("OPI Nail Lacquer, Big Apple Red", "Nail polish", NC),
    ("Neutrogena Ultra Sheer Sunscreen SPF 55", "Sunscreen", SK),
    ("Paul Mitchell Shampoo One", "Shampoo", HC),
    ("Maybelline Great Lash Mascara", "Mascara", MU),
    ("Revlon Super Lustrous Lipstick, Cherries in the Snow", "Lipstick", MU),
    ("Conair 1875 Watt Hair Dryer", "Hair dryers", HC),
    ("Remington Ceramic Flat Iron Hair Straightener", "Flat irons", HC),
    ("Hot Tools Professional 1 inch Curling Iron", "Curling irons", HC),
    ("CeraVe Foaming Facial Cleanser", "Facial cleanser", SK),
    ("Chanel No 5 Eau de Parfum Spray for Women", "Perfume for women", FR),
    ("Dove Deep Moisture Body Wash", "Body wash", BB),
    ("Pantene Pro-V Daily Moisture Renewal Conditioner", "Conditioner", HC),
    ("Urban Decay Naked Eyeshadow Palette", "Eyeshadow", MU),
    ("Real Techniques Makeup Brush Set", "Makeup brushes", MU),
    ("Gelish Soak Off Gel Polish", "Gel nail polish", NC),
    ("Colgate Total Whitening Toothpaste", "Toothpaste", "Oral care"),
    ("Gillette Fusion Razor Blades", "Razors", MG),
    ("Tweezerman Slant Tweezer", "Tweezers", TA),
    ("Apple iPhone 13 Smartphone 128GB", "Smartphones", "Electronics"),
    ("Sony Noise Cancelling Wireless Headphones", "Headphones", "Electronics"),
]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()


@pytest.fixture(scope="module")
def tagger(encoder: TextEncoder) -> ItemTagger:
    return ItemTagger(encoder)


class FixedEncoder:
    """Maps each text to a given unit vector (by substring), for exact-cosine tests."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([next(v for k, v in self.table.items() if k in t) for t in texts])


def unit(i: int, dim: int = 4) -> np.ndarray:
    return np.eye(dim, dtype=np.float32)[i]


def test_taxonomy_shape() -> None:
    leaves = [leaf for leaves in TAXONOMY.values() for leaf in leaves]
    assert 60 <= len(leaves) <= 110 and len(set(leaves)) == len(leaves)
    for dep in (SK, MU, NC, HC, FR, BB, MG, TA, "Oral care", "Electronics", "Grocery"):
        assert dep in TAXONOMY


@pytest.mark.parametrize(("title", "leaf", "department"), OBVIOUS)
def test_obvious_titles(
    tagger: ItemTagger, encoder: TextEncoder, title: str, leaf: str, department: str
) -> None:
    (tags,) = tagger.tag(encoder.encode([title]))
    assert (tags.category, tags.department) == (leaf, department), tags
    assert tags.confidence >= tagger.leaf_threshold


def test_batch_matches_single_and_empty_text(tagger: ItemTagger) -> None:
    titles = [t for t, _, _ in OBVIOUS[:5]]
    batch = tagger.tag_texts([*titles, ""])
    for got, title in zip(batch, titles, strict=False):
        alone = tagger.tag_texts([title])[0]
        assert (got.category, got.department) == (alone.category, alone.department)
        assert got.confidence == pytest.approx(alone.confidence, abs=0.01)
    assert batch[5] == ItemTags() and tagger.tag(np.zeros((0, 384), np.float32)) == []


def test_thresholds_drop_leaf_then_department() -> None:
    enc = FixedEncoder({"lipstick": unit(0), "mascara": unit(1), "shampoo": unit(2)})
    taxonomy = {"Makeup": ["Lipstick", "Mascara"], "Hair care": ["Shampoo"]}
    tagger = ItemTagger(enc, taxonomy, templates=("{leaf}",), hints={})

    def vec(cos: float) -> np.ndarray:  # cosine ``cos`` to "Lipstick", below it to the others
        return (cos * unit(0) + np.sqrt(1 - cos * cos) * unit(3))[None]

    assert tagger.tag(vec(0.9))[0] == ItemTags("Lipstick", "Makeup", confidence=0.9)
    assert tagger.tag(vec(0.35))[0] == ItemTags(None, "Makeup", confidence=0.35)
    assert tagger.tag(vec(0.2))[0] == ItemTags(None, None, confidence=0.2)


def test_ties_go_to_the_first_leaf() -> None:
    enc = FixedEncoder({"": unit(0)})  # every label gets the same vector
    first = ItemTagger(enc, {"A": ["x"], "B": ["y"]}, templates=("{leaf}",), hints={})
    second = ItemTagger(enc, {"B": ["y"], "A": ["x"]}, templates=("{leaf}",), hints={})
    assert first.tag(unit(0)[None])[0].category == "x"
    assert second.tag(unit(0)[None])[0].category == "y"


def test_catalog_category_wins_over_zero_shot(tagger: ItemTagger, encoder: TextEncoder) -> None:
    items = [
        Item("a", "OPI Nail Lacquer, Big Apple Red", category=("Beauty", "Hair", "Shampoo")),
        Item("b", "OPI Nail Lacquer, Big Apple Red", brand="OPI"),
        Item("c", "Maybelline Great Lash Mascara", category=(" ", "")),  # blank path = none
    ]
    tags = tags_for_catalog(items, encoder.encode([it.text() for it in items]), tagger)
    assert tags[0] == ItemTags("Shampoo", "Beauty", None, None, 1.0)
    assert (tags[1].category, tags[1].department, tags[1].brand) == ("Nail polish", NC, "OPI")
    assert tags[1].confidence < 1.0
    assert (tags[2].category, tags[2].brand) == ("Mascara", None)  # brands are never guessed
    with pytest.raises(ValueError, match="one vector per item"):
        tags_for_catalog(items, np.zeros((2, 384), np.float32), tagger)
    assert tags_for_catalog(items, None, None)[1] == ItemTags(brand="OPI")


def test_price_terciles_within_category_else_global() -> None:
    polish = [Item(f"p{i}", category=("Nails", "Polish"), price=float(i)) for i in range(1, 31)]
    luxe = [Item(f"l{i}", category=("Fragrance", "Perfume"), price=100.0 + i) for i in range(10)]
    small = [Item(f"s{p}", category=("Tools",), price=p) for p in (0.5, 15.0, 500.0)]
    items = [*polish, *luxe, *small, Item("n", category=("Tools",))]
    bands = [t.price_band for t in tags_for_catalog(items, None, None)]
    assert bands[:30] == ["budget"] * 10 + ["mid-range"] * 10 + ["premium"] * 10
    # relative to its own category: the cheapest perfume is "budget" though dear overall
    assert bands[30:40] == ["budget"] * 4 + ["mid-range"] * 3 + ["premium"] * 3
    assert bands[40:] == ["budget", "mid-range", "premium", None]  # < 10 priced: global terciles
    # too few prices in all to say what is cheap
    assert tags_for_catalog(small, None, None)[0].price_band is None


def test_labels_format() -> None:
    tags = ItemTags("Nail polish", NC, "OPI", "premium", 0.7)
    assert tags.labels() == [
        "department:Nail care",
        "category:Nail polish",
        "brand:OPI",
        "price:premium",
    ]
    assert ItemTags(None, SK).labels() == ["department:Skin care"] and ItemTags().labels() == []


def test_beauty_department_accuracy(
    beauty: SequenceData, tagger: ItemTagger, encoder: TextEncoder
) -> None:
    missing = [k for k in HAND_LABELS if k not in beauty.items]
    assert not missing, f"hand-labelled ids not in the catalog: {missing}"
    items = [beauty.catalog[beauty.items.index(k) - 1] for k in HAND_LABELS]
    tags = tags_for_catalog(items, encoder.encode([it.text() for it in items]), tagger)
    ok = [t.department in want for t, want in zip(tags, HAND_LABELS.values(), strict=True)]
    wrong = [
        (it.title[:50], t.department) for it, t, o in zip(items, tags, ok, strict=True) if not o
    ]
    accuracy = float(np.mean(ok))
    print(f"department accuracy {accuracy:.3f} on {len(ok)} hand-labelled titles")
    assert accuracy >= 0.8, (accuracy, wrong)


def test_beauty_leaves_are_not_degenerate(beauty: SequenceData, tagger: ItemTagger) -> None:
    picked = random.Random(0).sample(beauty.catalog, 1000)
    tags = tagger.tag_texts([it.text() for it in picked])
    leaves = collections.Counter(t.category for t in tags)
    untagged = leaves.pop(None, 0)
    assert len(leaves) >= 50, leaves
    assert leaves.most_common(1)[0][1] <= 100, leaves.most_common(5)
    assert untagged <= 250 and sum(t.department is None for t in tags) <= 80
