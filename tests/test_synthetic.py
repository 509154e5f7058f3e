"""The synthetic shop: deterministic, complete, consistent, and loadable as a shop export."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from shoprec.data.datasets import load_dataset, load_shop_folder
from shoprec.data.readers import read_events, read_reviews
from shoprec.data.records import EventType
from shoprec.data.splits import leave_one_out
from shoprec.data.synthetic import generate
from shoprec.data.synthetic_store import SyntheticStore

POSITIVE = {"love", "great", "excellent", "amazing", "perfect", "wonderfully", "favourite"}
NEUTRAL = {"okay", "decent", "average", "mostly", "nothing special"}
NEGATIVE = {"disappointed", "terrible", "waste", "poor", "awful", "returning", "not buy"}


@pytest.fixture(scope="module")
def store() -> SyntheticStore:
    return generate(n_users=150, n_items=120, seed=3)


def _words(text: str, vocabulary: set[str]) -> set[str]:
    low = text.lower()
    return {w for w in vocabulary if re.search(rf"\b{w}\b", low)}


def test_deterministic_by_seed(store: SyntheticStore) -> None:
    again = generate(n_users=150, n_items=120, seed=3)
    assert again.catalog == store.catalog and again.events == store.events
    assert again.reviews == store.reviews and again.users == store.users
    other = generate(n_users=150, n_items=120, seed=4)
    assert other.events != store.events


def test_catalog_looks_like_a_shop(store: SyntheticStore) -> None:
    cats = Counter(it.category[0] for it in store.catalog)
    assert len(cats) == 8 and all(len(it.category) == 2 for it in store.catalog)
    assert 15 <= len({it.brand for it in store.catalog}) <= 25
    assert all(it.title.startswith(it.brand) for it in store.catalog)
    assert all(it.description.endswith(".") for it in store.catalog)
    assert len({it.title for it in store.catalog}) > 0.9 * len(store.catalog)
    assert all(it.price is not None and it.price > 0 for it in store.catalog)
    assert 0 < sum(not it.in_stock for it in store.catalog) < 0.2 * len(store.catalog)
    # fragrance costs more than nail polish, on average
    price = {c: np.mean([it.price for it in store.catalog if it.category[0] == c]) for c in cats}
    assert price["Fragrance"] > price["Nails"]


def test_has_every_event_type(store: SyntheticStore) -> None:
    kinds = Counter(e.type for e in store.events)
    # impressions are what a server showed, not what a shopper did: the generator writes none
    assert set(kinds) == set(EventType) - {EventType.IMPRESSION}
    searches = [e for e in store.events if e.type is EventType.SEARCH]
    assert all(e.query for e in searches)
    reviews = [e for e in store.events if e.type is EventType.REVIEW]
    assert len(reviews) == len(store.reviews) and all(e.text and e.rating for e in reviews)
    days = (max(e.timestamp for e in store.events) - min(e.timestamp for e in store.events)) / 86400
    assert 80 <= days <= 110
    assert len({e.event_id for e in store.events}) == len(store.events)


def test_purchases_follow_views_and_never_out_of_stock(store: SyntheticStore) -> None:
    stock = {it.item_id: it.in_stock for it in store.catalog}
    viewed: dict[str, set[str]] = {}
    for e in store.events:  # time-ordered per user
        if e.type is EventType.VIEW:
            viewed.setdefault(e.user_id, set()).add(e.item_id)
        if e.type in (EventType.ADD_TO_CART, EventType.PURCHASE):
            assert e.item_id in viewed.get(e.user_id, set())
            assert stock[e.item_id]
    stamps = [(e.user_id, e.timestamp) for e in store.events]
    assert stamps == sorted(stamps, key=lambda p: (int(p[0][1:]), p[1]))


def test_ratings_agree_with_review_words(store: SyntheticStore) -> None:
    assert len(store.reviews) > 20
    for r in store.reviews:
        pos, neu, neg = (_words(r.text, v) for v in (POSITIVE, NEUTRAL, NEGATIVE))
        if r.rating >= 4:
            assert pos and not neg and not neu, r
        elif r.rating == 3:
            assert neu and not pos and not neg, r
        else:
            assert neg and not pos, r
    # better products get better ratings
    index = {it.item_id: i for i, it in enumerate(store.catalog)}
    q = np.array([store.quality[index[r.item_id]] for r in store.reviews])
    rating = np.array([r.rating for r in store.reviews])
    assert np.corrcoef(q, rating)[0, 1] > 0.5


def test_sequences_are_learnable(store: SyntheticStore) -> None:
    data = store.to_sequence_data()
    assert data.n_users == 150 and data.n_items == 120 and data.timestamps is not None
    assert min(len(s) for s in data.sequences) >= 5
    assert all(len(set(s.tolist())) == len(s) for s in data.sequences)  # first interactions only
    assert all(np.all(np.diff(t) >= 0) for t in data.timestamps)
    assert len(leave_one_out(data.sequences).users) == data.n_users
    # users mostly pick their preferred categories
    taste = {u.user_id: set(u.categories) for u in store.users}
    hits = [
        data.catalog[i - 1].category[0] in taste[data.users.external(u + 1)]
        for u, seq in enumerate(data.sequences)
        for i in seq
    ]
    assert np.mean(hits) > 0.7
    # popular items exist: the top 10% of items hold far more than 10% of interactions
    counts = np.sort(np.bincount(np.concatenate(data.sequences), minlength=data.n_items + 1))[::-1]
    assert counts[: data.n_items // 10].sum() > 0.25 * counts.sum()


def test_builtin_name_loads() -> None:
    data = load_dataset("synthetic")
    assert data.name == "synthetic" and data.n_users == 600 and data.n_items == 400
    assert data.has_text() and min(len(s) for s in data.sequences) >= 5


def test_write_loads_back(store: SyntheticStore, tmp_path: Path) -> None:
    folder = store.write(tmp_path / "shop")
    assert {p.name for p in folder.iterdir()} >= {"items.csv", "interactions.csv", "reviews.csv"}
    loaded = load_shop_folder(folder)
    data = store.to_sequence_data()
    assert (loaded.n_users, loaded.n_items) == (data.n_users, data.n_items)
    assert loaded.users.to_list() == data.users.to_list()
    assert loaded.items.to_list() == data.items.to_list()
    assert loaded.catalog == store.catalog  # title, description, category, brand, price, stock
    # the export keeps every interaction row; its first occurrences are the sequences
    for seq, full in zip(data.sequences, loaded.sequences, strict=True):
        firsts = list(dict.fromkeys(full.tolist()))
        assert firsts == seq.tolist()
    events = read_events(folder / "events.csv")
    assert events == store.events
    assert read_reviews(folder / "reviews.csv") == store.reviews
