"""Versioned bundles (issue 21): saved and loaded as is, the shelf's publish and rollback on a
folder store and on Redis, and the training job from the store (the promotion gate both ways,
erasure reaching the next bundle)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
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
    read_manifest,
    save_bundle,
)
from shoprec.ranking.bundle_shelf import BundleShelf
from shoprec.ranking.catalog import Catalog
from shoprec.settings import Settings
from shoprec.store.protocols import EventLog, ItemStore

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


def test_a_copy_missing_a_model_is_refused(tmp_path: Path) -> None:
    """A bundle copied without one of its models (a partial sync to shared storage) is not
    loaded as a bundle without that model."""
    import shutil

    path = save_bundle(tiny_fitted(), tmp_path)
    assert {"sasrec", "itemknn", "ranker", "popularity.npy"} <= set(read_manifest(path)["parts"])
    shutil.rmtree(path / "ranker")
    with pytest.raises(FileNotFoundError, match="ranker"):
        load_bundle(path)


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


# -- the training job: a tiny synthetic shop, a small SASRec, one thread (deterministic) -------

TINY = SASRecConfig(
    max_len=20,
    dim=32,
    n_layers=1,
    n_heads=1,
    dropout=0.2,
    use_text=True,
    time_gaps=True,
    batch_size=64,
    epochs=6,
    eval_every=1,
    patience=2,
    num_threads=1,
)


def _settings(tmp_path: Path) -> Settings:
    from conftest import make_settings

    # the synthetic titles' text vectors are cached with the other tests'
    return Settings(artifacts_dir=tmp_path / "art", text_cache=make_settings().text_cache)


@contextmanager
def _opened(store: str | Path, settings: Settings) -> Iterator[tuple[EventLog, ItemStore]]:
    from shoprec.store import open_stores

    log, items = open_stores(store, "os", settings.redis_prefix)
    try:
        yield log, items
    finally:
        log.close()
        items.close()


def _append(store: str | Path, settings: Settings, events: list, items: list | None = None) -> None:
    with _opened(store, settings) as (log, catalog):
        if items:
            catalog.upsert(items, 0.0)
        log.append(events)


def _train(store: Path, settings: Settings, **kw):  # -> TrainReport
    from shoprec.training.bundle_job import train_bundle

    return train_bundle(store, settings, config=TINY, progress=False, **kw)


def test_gate_promotes_a_better_bundle_and_refuses_a_worse_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Done when 3: the first bundle is published; a bundle trained on ten times the shoppers
    is promoted (held out: the shoppers new since the served cut-off); one trained on a tenth
    of the log is refused and the better one keeps serving. Then the CLI over the same shelf."""
    from typer.testing import CliRunner

    from shoprec.cli import app
    from shoprec.data.synthetic import generate

    shop = generate(n_users=300, n_items=120, seed=0)
    first = {u.user_id for u in shop.users[:30]}
    store, settings = tmp_path / "shop", _settings(tmp_path)
    _append(store, settings, [e for e in shop.events if e.user_id in first], shop.catalog)
    shelf = BundleShelf.for_store(store, settings)

    a = _train(store, settings)
    assert (a.decision, a.published, shelf.published()) == ("first", True, a.version)
    assert a.manifest["shoppers"] == 30 and a.heldout["served"] is None

    _append(store, settings, [e for e in shop.events if e.user_id not in first])
    b = _train(store, settings)
    assert "after the served bundle's cut-off" in b.heldout["rule"]
    assert b.heldout["shoppers"] == 270  # every new shopper's last interaction
    new, old = b.heldout["new"]["NDCG@10"], b.heldout["served"]["NDCG@10"]
    assert b.heldout["served"]["version"] == a.version
    assert new > old + 0.02, (new, old)
    assert (b.decision, b.published, shelf.published()) == ("promoted", True, b.version)

    c = _train(store, settings, fraction=0.1)
    new, old = c.heldout["new"]["NDCG@10"], c.heldout["served"]["NDCG@10"]
    assert new < old - 0.02, (new, old)
    assert (c.decision, c.published, shelf.published()) == ("refused", False, b.version)

    # the manifest says what was trained on and why the gate decided
    m = json.loads((c.path / "manifest.json").read_text())
    assert m["version"] == c.version and m["cutoff_seq"] == b.manifest["cutoff_seq"]
    assert m["shoppers"] == 30 and m["items"] == 120 and m["events"] == len(shop.events)
    assert m["gate"] == {
        "decision": "refused",
        "tolerance": settings.promote_tolerance,
        "reason": c.reason,
        "served_version": b.version,
    }
    assert m["config"]["fraction"] == 0.1 and m["trials"]["valid_history"]
    # leave-one-out: no shopper's last interaction (the hold-out's targets) is trained on
    pb = load_bundle(b.path)
    assert pb.popularity is not None
    assert pb.popularity.sum() == b.manifest["interactions"] - b.manifest["shoppers"]

    run = CliRunner()
    listed = run.invoke(app, ["bundles", "list", "--store", str(store)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert c.version in listed.output and "refused" in listed.output
    promoted = run.invoke(app, ["bundles", "promote", c.version, "--store", str(store)])
    assert promoted.exit_code == 0 and shelf.published() == c.version
    back = run.invoke(app, ["bundles", "rollback", "--store", str(store)])
    assert back.exit_code == 0 and shelf.published() == b.version
    bad = run.invoke(app, ["bundles", "promote", "nope", "--store", str(store)])
    assert bad.exit_code == 2 and "nope" in bad.output

    # a bundle published by hand while a run trains is not overwritten by that run
    import shoprec.training.bundle_job as job

    def meanwhile(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        out = real(*args, **kw)
        shelf.publish(a.version, "by hand, during the run")
        return out

    real = job.train_sasrec
    monkeypatch.setattr(job, "train_sasrec", meanwhile)
    d = _train(store, settings)
    assert (d.decision, d.published, shelf.published()) == ("kept aside", False, a.version)
    assert f"{a.version} was published during the run" in d.reason


@pytest.fixture(params=["folder", "redis"])
def shop_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """A fresh store and its settings: a folder, or the shared Redis under a key prefix of its
    own (its keys deleted after)."""
    if request.param == "folder":
        yield str(tmp_path / "shop"), _settings(tmp_path)
        return
    import redis

    from redis_fixtures import SHARED_REDIS_URL

    prefix = f"test:bundles:{os.getpid()}:shop:"
    settings = _settings(tmp_path).model_copy(update={"redis_prefix": prefix})
    client = redis.Redis.from_url(SHARED_REDIS_URL)

    def clean() -> None:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)

    clean()
    try:
        yield SHARED_REDIS_URL, settings
    finally:
        clean()


def test_an_erased_shoppers_pair_leaves_the_next_bundle(shop_store: tuple[str, Settings]) -> None:
    """Done when 4, training half, on a folder store and on Redis: two items only one shopper
    viewed together are co-visitation neighbours in the bundle; after the shopper is erased the
    next bundle has no trace of them (neighbours, popularity) and neither has its input, the
    export of the log."""
    from shoprec.data.records import Event, EventType, Item
    from shoprec.data.synthetic import generate
    from shoprec.training.export import export_sequences

    shop = generate(n_users=150, n_items=60, seed=1)
    pair = [Item("ERASE-X", "Walnut garden bench"), Item("ERASE-Y", "Cast iron kettle")]
    t = max(e.timestamp for e in shop.events)
    mine = ["ERASE-X", "ERASE-Y", shop.catalog[0].item_id, shop.catalog[1].item_id]
    eve = [
        Event("eve", it, EventType.VIEW, t - 600 + 60 * k, f"eve-{k}") for k, it in enumerate(mine)
    ]
    store, settings = shop_store
    _append(store, settings, shop.events + eve, shop.catalog + pair)

    def trace(fitted: FittedBundle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = (fitted.item_ids.index(i) + 1 for i in ("ERASE-X", "ERASE-Y"))
        assert fitted.itemknn is not None and fitted.popularity is not None
        nb, sim = fitted.itemknn.similar_items(np.array([x]), 10)
        return nb[0][sim[0] > 0], fitted.popularity[[x, y]], np.array([x, y])

    before = _train(store, settings)
    nbrs, pop, (x, y) = trace(load_bundle(before.path))
    assert y in nbrs and (pop > 0).all()

    with _opened(store, settings) as (log, _):
        assert log.delete_user("eve") == 4
    after = _train(store, settings, tolerance=1.0)  # the gate is not under test here
    assert after.published and BundleShelf.for_store(store, settings).published() == after.version
    nbrs, pop, _ = trace(load_bundle(after.path))
    assert len(nbrs) == 0 and (pop == 0).all()
    with _opened(store, settings) as (log, items):
        data = export_sequences(log, items)
    assert "eve" not in data.users
    assert not any(np.isin(s, [x, y]).any() for s in data.sequences)


def test_an_empty_store_has_nothing_to_train(tmp_path: Path) -> None:
    """No shopper with three interactions: a clear error, no bundle, nothing published."""
    from typer.testing import CliRunner

    from shoprec.cli import app
    from shoprec.data.synthetic import generate
    from shoprec.training.bundle_job import NothingToTrain

    store, settings = tmp_path / "shop", _settings(tmp_path)
    _append(store, settings, [], generate(n_users=1, n_items=16).catalog)
    with pytest.raises(NothingToTrain):
        _train(store, settings)
    out = CliRunner().invoke(app, ["train", "--store", str(store), "--no-verbose"])
    assert out.exit_code == 1 and "nothing to train on" in out.output
    assert BundleShelf.for_store(store, settings).versions() == []
