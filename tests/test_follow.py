"""The embedded server follows what another process writes into its store (``serving/follow.py``):
items and events another handle on the same SQLite file (``shoprec import``) appended reach the
engine's catalog, shoppers and trending; its own events are not applied twice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from shoprec.data.records import Event, EventType, Item
from shoprec.online.state import UserState
from shoprec.serving import follow
from shoprec.serving.engine import Engine
from shoprec.serving.follow import follow_store
from shoprec.store import MemoryStateStore, open_embedded


def _vectors(texts: list[str]) -> np.ndarray:
    """Unit vectors from the texts' hashes: no encoder to load."""
    out = np.zeros((len(texts), 384), np.float32)
    for k, text in enumerate(texts):
        seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).standard_normal(384)
        out[k] = v / np.linalg.norm(v)
    return out


def test_engine_follows_another_handle_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follow, "PAGE", 2)  # the events below span pages
    events, items = open_embedded(tmp_path)
    engine = Engine(events, items, MemoryStateStore[UserState](), _vectors)
    engine.upsert_items([Item("a", "Alpha cream"), Item("b", "Beta serum")], now=10.0)
    engine.ingest([Event("old", "a", EventType.VIEW, 100.0, "e0")])
    engine.load()  # as at start-up: the follower goes on from the replayed seq
    follower = follow_store(engine, events, items, interval=3600)  # rounds run by hand below
    other_log, other_items = open_embedded(tmp_path)  # another process (shoprec import)
    try:
        other_items.upsert([Item("new", "Gamma night oil", category=("Skin", "Oils"))], 50.0)
        other_log.append(
            [
                Event("fresh", "new", EventType.PURCHASE, 200.0, "x1"),
                Event("fresh", "a", EventType.VIEW, 210.0, "x2"),
            ]
        )
        engine.ingest([Event("mine", "b", EventType.VIEW, 205.0, "m1")])  # this process's own
        other_log.append([Event("mine", "a", EventType.VIEW, 220.0, "x3")])
        assert follower.step() == (1, 3)  # the item, then the three events of the other handle
        assert "new" in engine.catalog and engine.catalog.items[engine.catalog.get("new")] == (
            Item("new", "Gamma night oil", category=("Skin", "Oils"))
        )
        fresh, mine = engine.state("fresh"), engine.state("mine")
        assert fresh is not None and fresh.bought == {"new"} and fresh.n_events == 2
        assert mine is not None and mine.n_events == 2  # its own view once, the other's once
        assert engine.clock == 220.0
        trending = engine.trending.scores(len(engine.catalog) + 1, now=220.0)
        assert trending[engine.catalog.get("new")] > 0  # the purchase counts, the item known
        assert follower.step() == (0, 0)  # nothing new: nothing applied again
        # an item changed by the other handle is re-indexed; one this engine upserted is not
        other_items.upsert([Item("new", "Gamma night oil", price=12.0)], 60.0)
        engine.upsert_items([Item("c", "Delta balm")], now=70.0)
        assert follower.step() == (1, 0)
        assert engine.catalog.items[engine.catalog.get("new")].price == 12.0  # type: ignore[union-attr]
    finally:
        follower.stop()
        for store in (other_log, other_items, events, items):
            store.close()


def test_redis_replicas_index_items_another_process_upserted() -> None:
    """Over Redis the stream follower of each replica also follows the catalog: an item that
    ``shoprec import`` (here: another handle) upserts reaches a running replica's catalog."""
    import uuid

    import redis

    from redis_fixtures import SHARED_REDIS_URL, missing_redis
    from shoprec.serving.shared import SharedState, StreamFollower
    from shoprec.store.redis_items import RedisItemStore

    try:
        redis.Redis.from_url(SHARED_REDIS_URL).ping()
    except redis.ConnectionError:
        missing_redis(f"no Redis answers at {SHARED_REDIS_URL}")
    prefix = f"test-follow-{uuid.uuid4().hex[:8]}:"
    shared = SharedState(SHARED_REDIS_URL, prefix)
    try:
        engine = Engine(shared.log, shared.items, shared.states, _vectors, shared=shared)
        engine.upsert_items([Item("a", "Alpha cream")], now=1.0)
        follower = StreamFollower(shared, engine, after=0, block_ms=1)
        other = RedisItemStore(redis.Redis.from_url(SHARED_REDIS_URL), prefix)
        other.upsert([Item("z", "Zeta lip oil")], 5.0)
        follower.step()
        assert engine.catalog.items[engine.catalog.get("z")] == Item("z", "Zeta lip oil")
        assert follower.catalog.step() == 0  # nothing changed since: nothing indexed again
        other.close()
    finally:
        for key in shared.client.scan_iter(match=f"{prefix}*", count=1000):
            shared.client.delete(key)
        shared.close()


def test_live_server_follows_an_import(live_server: str, live_store: Path, tmp_path: Path) -> None:
    """A running ``shoprec serve`` over a folder store, and ``shoprec import`` of a new item and
    a new shopper's events into that folder (this test's process, not the server's): within a
    few seconds the item is served and searchable, and the shopper's feed reflects the events
    (the item bought is no longer recommended to them)."""
    import time

    import httpx
    from typer.testing import CliRunner

    from shoprec.cli import app

    shopper = "follow-import-shopper"
    with httpx.Client(base_url=live_server, timeout=10) as http:
        cold = http.get(f"/v1/users/{shopper}/recommendations", params={"n": 10}).json()
        bought = cold["items"][0]["item_id"]
        (tmp_path / "items.csv").write_text(
            "item_id,title,category,price\nfollow-quokka,Quokka glow serum,Skin Care > Serums,14\n"
        )
        now = time.time()
        (tmp_path / "events.csv").write_text(
            "user_id,item_id,type,timestamp\n"
            f"{shopper},follow-quokka,view,{now - 60:.0f}\n"
            f"{shopper},{bought},purchase,{now - 30:.0f}\n"
        )
        run = CliRunner().invoke(
            app,
            ["import", "--store", str(live_store), "--items", str(tmp_path / "items.csv")]
            + ["--events", str(tmp_path / "events.csv")],
        )
        assert run.exit_code == 0, run.output
        deadline = time.monotonic() + 15
        while True:
            profile = http.get(f"/v1/users/{shopper}/profile").json()
            if profile["n_events"] == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert profile["bought"] == [bought]
        assert [r["item_id"] for r in profile["recent"]][-1] == "follow-quokka"
        assert http.get("/v1/items/follow-quokka").json()["title"] == "Quokka glow serum"
        feed = http.get(f"/v1/users/{shopper}/recommendations", params={"n": 10}).json()
        assert bought not in [it["item_id"] for it in feed["items"]]
        found = http.get("/v1/search", params={"q": "quokka serum", "n": 3}).json()
        assert found["items"][0]["item_id"] == "follow-quokka"
