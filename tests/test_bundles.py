"""Versioned bundles (issue 21): saved and loaded as is, the shelf's publish and rollback on a
folder store and on Redis, and the training job from the store (the promotion gate both ways,
erasure reaching the next bundle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from shoprec.data.interactions import TrainData
from shoprec.models.itemknn import ItemKNN, ItemKNNConfig
from shoprec.models.ranker import FEATURES, Ranker
from shoprec.models.sasrec import SASRecConfig
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.ranking.bundle_io import (
    FittedBundle,
    align,
    empty_bundle,
    load_bundle,
    new_version,
    save_bundle,
)
from shoprec.ranking.bundle_shelf import BundleShelf
from shoprec.ranking.catalog import Catalog
from shoprec.settings import Settings

N = 30  # model items


def _catalog(ids: list[str]) -> Catalog:
    from shoprec.data.records import Item
    from shoprec.online.tags import ItemTags

    cat = Catalog()
    rng = np.random.default_rng(3)
    vec = rng.normal(size=(len(ids), 384)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    items = [Item(i, f"title {i}") for i in ids]
    cat.upsert(items, vec, [ItemTags() for _ in ids], [0.0] * len(ids))
    return cat


def tiny_fitted(version: str | None = None) -> FittedBundle:
    """Every model of a bundle, fitted in about a second on random sequences."""
    rng = np.random.default_rng(0)
    hist = [rng.integers(1, N + 1, int(rng.integers(3, 9))) for _ in range(60)]
    cfg = SASRecConfig(max_len=10, dim=16, n_layers=1, n_heads=1, epochs=1, use_text=False)
    sasrec = SASRecRecommender(cfg, progress=False).fit(TrainData(histories=hist, n_items=N))
    knn = ItemKNN(ItemKNNConfig(k=10)).fit(TrainData(histories=hist, n_items=N))
    x = rng.normal(size=(200, len(FEATURES)))
    ranker = Ranker().fit(x, (x[:, 0] > 0).astype(np.float64))
    pop = np.bincount(np.concatenate(hist), minlength=N + 1).astype(np.float64)
    manifest = {"cutoff_seq": 7} | ({"version": version} if version else {})
    ids = [f"i{k:03d}" for k in range(1, N + 1)]
    return FittedBundle(ids, sasrec, knn, pop, ranker, manifest)


def test_save_load_round_trip_scores_equal(tmp_path: Path) -> None:
    fitted = tiny_fitted()
    path = save_bundle(fitted, tmp_path)
    assert path == tmp_path / fitted.version and (path / "manifest.json").is_file()
    assert not list(tmp_path.glob(".tmp-*"))  # built aside, renamed into place
    back = load_bundle(path)
    assert back.version == fitted.version and back.item_ids == fitted.item_ids
    assert back.manifest["cutoff_seq"] == 7
    # the live catalog holds the items in another order, two model items gone, one new
    ids = fitted.item_ids[2:][::-1] + ["new-item"]
    cat = _catalog(ids)
    a, b = align(fitted, cat), align(back, cat)
    assert a.version == b.version == fitted.version and b.meta["cutoff_seq"] == 7
    for name in ("covis_ids", "covis_sims", "popularity", "text_ids"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    hist = np.array([cat.index["i005"], cat.index["i010"]])
    assert a.encoder is not None and b.encoder is not None
    np.testing.assert_allclose(a.encoder.scores(hist, None), b.encoder.scores(hist, None))
    x = np.random.default_rng(1).normal(size=(5, len(FEATURES)))
    assert a.ranker is not None and b.ranker is not None
    np.testing.assert_allclose(a.ranker.score(x), b.ranker.score(x))
    assert b.popularity[cat.index["i005"]] == fitted.popularity[5]  # type: ignore[index]
    empty = empty_bundle(cat)
    assert empty.version == "none" and empty.encoder is None and not empty.covis_ids.any()
    with pytest.raises(FileExistsError):
        save_bundle(fitted, tmp_path)


def _exercise(shelf: BundleShelf) -> None:
    assert shelf.published() is None and shelf.versions() == []
    v1, v2, v3 = (new_version(1e9 + k) for k in range(3))
    for v in (v1, v2, v3):
        save_bundle(FittedBundle([], None, None, None, None, {"version": v}), shelf.root)
    (shelf.root / ".tmp-half").mkdir()  # a bundle being written is not listed
    with pytest.raises(ValueError, match="no earlier"):
        shelf.rollback()
    with pytest.raises(ValueError, match="no bundle"):
        shelf.publish("19990101T000000Z-abcdef", "typo")
    shelf.publish(v1, "first")
    shelf.publish(v2, "better")
    shelf.publish(v3, "better again")
    listed = shelf.versions()
    assert [m["version"] for m in listed] == [v3, v2, v1]
    assert [m["published"] for m in listed] == [True, False, False]
    assert shelf.rollback() == v2 and shelf.published() == v2
    value = shelf.pointer_value()
    assert value is not None and value["reason"] == f"rollback from {v3}"
    assert shelf.rollback() == v1
    with pytest.raises(ValueError):
        shelf.rollback()
    shelf.publish(v3, "promote")  # by hand: the one it replaces can be rolled back to
    assert shelf.pointer_value()["history"] == [v1]  # type: ignore[index]
    assert shelf.load(v3).version == v3


def test_shelf_on_a_folder_store(tmp_path: Path) -> None:
    shelf = BundleShelf.for_store(tmp_path / "shop", Settings())
    assert shelf.root == tmp_path / "shop" / "bundles"
    _exercise(shelf)
    raw = json.loads((shelf.root / "published.json").read_text())
    assert set(raw) == {"version", "at", "reason", "history"}


def test_shelf_on_redis(tmp_path: Path) -> None:
    import redis

    from redis_fixtures import SHARED_REDIS_URL

    prefix = f"test:bundles:{os.getpid()}:"
    settings = Settings(artifacts_dir=tmp_path, redis_prefix=prefix)
    client = redis.Redis.from_url(SHARED_REDIS_URL)
    client.delete(prefix + "bundle:published")
    try:
        shelf = BundleShelf.for_store(SHARED_REDIS_URL, settings)
        assert shelf.root.parent == tmp_path / "bundles"
        assert shelf.root.name.startswith("redis-127.0.0.1-6379-15")
        _exercise(shelf)
        stored = json.loads(client.get(prefix + "bundle:published"))  # type: ignore[arg-type]
        assert stored["version"] == shelf.published()
    finally:
        client.delete(prefix + "bundle:published")
