"""A synthetic shop for machines without the public data folder.

:func:`generate` draws a catalog with real-looking text, shoppers with latent tastes (preferred
categories, a favourite brand, a price band), sessions of events over about 90 days, and reviews
whose text agrees with their rating. The signal is learnable: shoppers mostly browse their
preferred categories, stay within a sub-category inside a session, buy only what they viewed, and
some items are far more popular than others. Everything is a pure function of the seed.
The words come from :mod:`shoprec.data.synthetic_vocab`; the result is a
:class:`~shoprec.data.synthetic_store.SyntheticStore`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from shoprec.data.records import Event, EventType, Item, Review
from shoprec.data.synthetic_store import ShopperTaste, SyntheticStore
from shoprec.data.synthetic_vocab import (
    BRANDS,
    CATALOG_TEXT,
    EXTRAS,
    INGREDIENTS,
    PRICE_BANDS,
    REVIEW_DETAILS,
    REVIEW_OPENERS,
    TIERS,
)

log = logging.getLogger(__name__)

START = 1_704_067_200  # 2024-01-01 00:00 UTC; fixed so that output depends on the seed only
DAYS = 90
DAY = 86_400


def _catalog(
    rng: np.random.Generator, n_items: int
) -> tuple[list[Item], list[str], np.ndarray, np.ndarray]:
    """Items, their product nouns, latent quality and log-popularity, each of length n_items."""
    cats = list(CATALOG_TEXT)
    # every category gets at least two brands; each brand covers two or three categories
    brand_cats = {b: [cats[i % len(cats)]] for i, b in enumerate(BRANDS)}
    for b in BRANDS:
        extra = rng.choice(len(cats), size=int(rng.integers(1, 3)), replace=False)
        brand_cats[b] += [cats[j] for j in extra if cats[j] not in brand_cats[b]]
    tier = {b: list(TIERS)[int(rng.choice(3, p=[0.35, 0.4, 0.25]))] for b in BRANDS}
    items: list[Item] = []
    nouns: list[str] = []
    quality, log_pop = np.empty(n_items), np.empty(n_items)
    for i in range(n_items):
        cat = cats[i] if i < len(cats) else cats[int(rng.integers(len(cats)))]
        median, subs, adjectives, benefits, sizes = CATALOG_TEXT[cat]
        sub = list(subs)[int(rng.integers(len(subs)))]
        noun = subs[sub][int(rng.integers(len(subs[sub])))]
        makers = [b for b in BRANDS if cat in brand_cats[b]]
        brand = makers[int(rng.integers(len(makers)))]
        nouns.append(noun)
        adj = rng.choice(adjectives, size=2, replace=False)
        words = [brand, adj[0], noun] if rng.random() < 0.5 else [brand, adj[0], adj[1], noun]
        title = " ".join(words) + f", {sizes[int(rng.integers(len(sizes)))]}"
        benefit = benefits[int(rng.integers(len(benefits)))]
        desc = f"A {adj[0].lower()} {noun.lower()} that {benefit}."
        if rng.random() < 0.7:
            sentence = EXTRAS[int(rng.integers(len(EXTRAS)))]
            ingredient = INGREDIENTS[int(rng.integers(len(INGREDIENTS)))]
            desc += " " + sentence.format(ingredient=ingredient)
        price = median * TIERS[tier[brand]] * float(np.exp(rng.normal(0.0, 0.35)))
        quality[i] = rng.normal(0.25 if tier[brand] == "premium" else 0.0, 1.0)
        log_pop[i] = rng.normal(0.0, 1.1) + 0.3 * quality[i]
        items.append(
            Item(
                item_id=f"P{i + 1:05d}",
                title=title,
                description=desc,
                category=(cat, sub),
                brand=brand,
                price=max(round(price) - 0.01, 1.99),
                in_stock=bool(rng.random() > 0.06),
            )
        )
    return items, nouns, quality, log_pop


def _review_text(rng: np.random.Generator, rating: int, item: Item, noun: str) -> str:
    """A review whose wording agrees with ``rating`` (4-5 positive, 3 neutral, 1-2 negative)."""
    mood = "positive" if rating >= 4 else "neutral" if rating == 3 else "negative"
    opener = REVIEW_OPENERS[mood][int(rng.integers(len(REVIEW_OPENERS[mood])))]
    detail = REVIEW_DETAILS[mood][int(rng.integers(len(REVIEW_DETAILS[mood])))]
    return f"{opener.format(noun=noun.lower())} {detail.format(brand=item.brand)}"


#: A raw event: (user index, seconds after START, item index, type, rating, session, query, text).
Row = tuple[int, int, int, EventType, int, str, str | None, str | None]


@dataclass
class _Shop:
    """The generator's view of the catalog; every array is ``(n_items,)``."""

    catalog: list[Item]
    nouns: list[str]
    quality: np.ndarray  # float64, latent quality (ratings follow it)
    log_pop: np.ndarray  # float64, latent popularity
    cat: np.ndarray  # int64, index into CATALOG_TEXT
    sub: np.ndarray  # int64, (category, sub-category) code
    brand: np.ndarray  # int64, index into BRANDS
    log_rel_price: np.ndarray  # float64, log(price / category median)

    @classmethod
    def build(cls, rng: np.random.Generator, n_items: int) -> _Shop:
        catalog, nouns, quality, log_pop = _catalog(rng, n_items)
        cats = list(CATALOG_TEXT)
        return cls(
            catalog,
            nouns,
            quality,
            log_pop,
            cat=np.array([cats.index(it.category[0]) for it in catalog]),
            sub=np.array([_sub_index(it.category) for it in catalog]),
            brand=np.array([BRANDS.index(it.brand) for it in catalog]),
            log_rel_price=np.array(
                [np.log((it.price or 1.0) / CATALOG_TEXT[it.category[0]][0]) for it in catalog]
            ),
        )


def _taste(rng: np.random.Generator, shop: _Shop, user_id: str) -> ShopperTaste:
    """1-3 preferred categories, a favourite brand that makes them, a price band."""
    cats = list(CATALOG_TEXT)
    weight = np.array([1.4, 1.3, 1.1, 0.8, 1.0, 0.8, 0.7, 0.6])
    k = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
    prefs = rng.choice(len(cats), size=k, replace=False, p=weight / weight.sum())
    makers = shop.brand[np.isin(shop.cat, prefs)]
    brand = BRANDS[int(makers[int(rng.integers(len(makers)))])]
    band = list(PRICE_BANDS)[int(rng.choice(3, p=[0.35, 0.4, 0.25]))]
    return ShopperTaste(user_id, tuple(cats[c] for c in prefs), brand, band)


def _shopper(rng: np.random.Generator, shop: _Shop, u: int, taste: ShopperTaste) -> list[Row]:
    """All events of shopper ``u``: sessions until there are enough, each in one category."""
    cats = list(CATALOG_TEXT)
    prefs = np.array([cats.index(c) for c in taste.categories])
    fav = BRANDS.index(taste.brand)
    utility = (
        shop.log_pop
        + 1.3 * (shop.brand == fav)
        + 0.3 * shop.quality
        - 1.5 * np.abs(shop.log_rel_price - PRICE_BANDS[taste.price_band])
    )
    liked = np.isin(shop.cat, prefs) + (shop.brand == fav) + (shop.quality > 0)  # 0..3
    leniency = rng.normal(0.0, 0.3)
    n_sessions = 2 + int(rng.poisson(3))
    starts = np.sort(rng.integers(0, DAYS * DAY, size=n_sessions))
    rows: list[Row] = []
    seen: dict[int, int] = {}
    s = 0
    while s < n_sessions or (len(seen) < 5 and s < n_sessions + 50):
        t = int(starts[s]) if s < n_sessions else int(rng.integers(0, DAYS * DAY))
        sid = f"{taste.user_id}-s{s + 1:03d}"
        c = int(rng.choice(prefs)) if rng.random() < 0.85 else int(rng.integers(len(cats)))
        pool, prev = np.flatnonzero(shop.cat == c), -1
        for step in range(1 + int(rng.poisson(1.8))):
            # stay near the previous item's sub-category; rarely come back to a seen item
            w = utility[pool] + (1.5 * (shop.sub[pool] == shop.sub[prev]) if prev >= 0 else 0.0)
            w = np.exp(w - w.max()) * np.array([0.15 if j in seen else 1.0 for j in pool])
            j = int(pool[int(rng.choice(len(pool), p=w / w.sum()))])
            item = shop.catalog[j]
            if step == 0 and rng.random() < 0.35:
                words = [shop.nouns[j], item.category[1], f"{item.brand} {shop.nouns[j]}"]
                query = words[int(rng.integers(len(words)))].lower()
                rows.append((u, t, j, EventType.SEARCH, 0, sid, query, None))
            t += int(rng.integers(5, 120))
            rows.append((u, t, j, EventType.VIEW, 0, sid, None, None))
            seen[j] = seen.get(j, 0) + 1
            if rng.random() < 0.45:
                t += int(rng.integers(2, 30))
                rows.append((u, t, j, EventType.CLICK, 0, sid, None, None))
            if item.in_stock and rng.random() < 0.08 + 0.12 * liked[j]:
                t += int(rng.integers(5, 90))
                rows.append((u, t, j, EventType.ADD_TO_CART, 0, sid, None, None))
                if rng.random() < 0.65:
                    t += int(rng.integers(30, 600))
                    rows.append((u, t, j, EventType.PURCHASE, 0, sid, None, None))
                    if rng.random() < 0.5:
                        score = 3.7 + 1.1 * shop.quality[j] + leniency + rng.normal(0.0, 0.5)
                        rating = int(np.clip(np.rint(score), 1, 5))
                        text = _review_text(rng, rating, item, shop.nouns[j])
                        t_review = t + int(rng.integers(2 * DAY, 14 * DAY))
                        rows.append((u, t_review, j, EventType.REVIEW, rating, sid, None, text))
            prev = j
        s += 1
    unseen = np.setdiff1d(np.arange(len(shop.catalog)), list(seen))
    for j in rng.permutation(unseen)[: max(0, 5 - len(seen))]:  # top up to 5 distinct items
        rows.append((u, DAYS * DAY, int(j), EventType.VIEW, 0, f"{taste.user_id}-s999", None, None))
    return rows


def generate(n_users: int = 600, n_items: int = 400, seed: int = 0) -> SyntheticStore:
    """Generate a synthetic shop; the same arguments always give the same store.

    Parameters
    ----------
    n_users : number of shoppers (each ends with at least 5 distinct items).
    n_items : catalog size (at least 16, so that every category is stocked).
    seed : seed of the random generator.
    """
    if n_users < 1 or n_items < 16:
        raise ValueError(f"need n_users >= 1 and n_items >= 16, got {n_users}, {n_items}")
    rng = np.random.default_rng(seed)
    shop = _Shop.build(rng, n_items)
    users = [_taste(rng, shop, f"u{u + 1:05d}") for u in range(n_users)]
    rows = [row for u, taste in enumerate(users) for row in _shopper(rng, shop, u, taste)]
    rows.sort(key=lambda r: (r[0], r[1]))  # stable: same-second events keep generation order
    events: list[Event] = []
    reviews: list[Review] = []
    for n, (u, t, j, kind, rating, sid, query, text) in enumerate(rows, start=1):
        user_id, item_id, ts = users[u].user_id, shop.catalog[j].item_id, float(START + t)
        review = kind is EventType.REVIEW
        events.append(
            Event(
                user_id=user_id,
                item_id=item_id,
                type=kind,
                timestamp=ts,
                event_id=f"e{n:07d}",
                session_id=sid,
                query=query,
                text=text,
                rating=float(rating) if review else None,
            )
        )
        if review:
            reviews.append(
                Review(f"r{len(reviews) + 1:06d}", item_id, text or "", float(rating), user_id, ts)
            )
    log.info(
        "synthetic shop: %d users, %d items, %d events, %d reviews (seed %d)",
        n_users,
        n_items,
        len(events),
        len(reviews),
        seed,
    )
    return SyntheticStore(shop.catalog, users, events, reviews, shop.quality, seed)


def _sub_index(category: tuple[str, ...]) -> int:
    """A stable code for a (category, sub-category) path (``hash`` of a str is salted per run)."""
    cat, sub = category[0], category[1]
    return list(CATALOG_TEXT).index(cat) * 16 + list(CATALOG_TEXT[cat][1]).index(sub)
