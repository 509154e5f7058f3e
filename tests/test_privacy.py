"""Erasure: after ``DELETE /v1/users/{id}`` the shopper is in no store (embedded and Redis,
checked down to the raw rows and keys) and in no later artifact: training data is exported
from the event log, and the next trained SASRec checkpoint is built without them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from shoprec.data.records import Item
from shoprec.online.state import UserState
from shoprec.serving.app import create_app
from shoprec.serving.engine import Engine
from shoprec.settings import Settings
from shoprec.store import DB_FILENAME, MemoryStateStore, open_embedded
from shoprec.text.vectorizer import Vectorizer
from shoprec.training.export import export_sequences

REDIS_URL = "redis://127.0.0.1:6379/15"
VICTIM = "victim-7f3a"
ONLY_VICTIM = "SKU-ONLY-VICTIM"  # an item nobody else ever touched
WORDS = ["serum", "shampoo", "lipstick", "sunscreen", "mascara", "toner", "nail polish", "balm"]


@dataclass
class Shop:
    client: TestClient
    engine: Engine
    backend: str
    where: Path | str  # the SQLite file, or the Redis key prefix


@pytest.fixture(scope="module")
def vectorize(tmp_path_factory: pytest.TempPathFactory) -> Vectorizer:
    root = tmp_path_factory.mktemp("privacy-text")
    return Vectorizer(Settings(artifacts_dir=root, text_cache=root / "text.npz"))


def catalog() -> list[Item]:
    items = [
        Item(f"SKU-{k}", f"{WORDS[k % len(WORDS)].title()} no. {k}", price=5.0 + k)
        for k in range(40)
    ]
    return [*items, Item(ONLY_VICTIM, "Rare glitter top coat", price=9.0)]


def item_json(it: Item) -> dict:
    return {"item_id": it.item_id, "title": it.title, "price": it.price}


def history(rng: np.random.Generator, user: str, n: int) -> list[dict]:
    items = rng.choice(40, n, replace=False)
    return [
        {"user_id": user, "item_id": f"SKU-{i}", "type": "view", "timestamp": 1.7e9 + 60 * k}
        for k, i in enumerate(items.tolist())
    ]


def victim_events() -> list[dict]:
    t = 1.7e9
    return [
        {"user_id": VICTIM, "item_id": "SKU-1", "type": "view", "timestamp": t, "event_id": "v1"},
        {"user_id": VICTIM, "item_id": ONLY_VICTIM, "type": "purchase", "timestamp": t + 60},
        {"user_id": VICTIM, "item_id": "SKU-2", "type": "add_to_cart", "timestamp": t + 120},
        {"user_id": VICTIM, "type": "search", "query": "glitter", "timestamp": t + 150},
        {
            "user_id": VICTIM,
            "item_id": ONLY_VICTIM,
            "type": "review",
            "rating": 5,
            "text": "Love it",
            "timestamp": t + 170,
        },
        {"user_id": VICTIM, "item_id": "SKU-3", "type": "purchase", "timestamp": t + 180},
    ]


@pytest.fixture(params=["sqlite", "redis"])
def shop(request: pytest.FixtureRequest, tmp_path: Path, vectorize: Vectorizer) -> Iterator[Shop]:
    shared = None
    if request.param == "sqlite":
        events, items = open_embedded(tmp_path)
        states = MemoryStateStore[UserState]()
        where: Path | str = tmp_path / DB_FILENAME
    else:
        from shoprec.serving.shared import SharedState

        where = f"test:privacy:{uuid.uuid4().hex}:"  # own key space: no flushdb of db 15
        try:
            shared = SharedState(REDIS_URL, prefix=where)
            shared.client.ping()
        except redis.ConnectionError as exc:  # CI runs Redis: a missing one is a failure
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}", pytrace=False)
        events, items, states = shared.log, shared.items, shared.states
    engine = Engine(events, items, states, vectorize, shared=shared)
    client = TestClient(create_app(engine))
    assert (
        client.put("/v1/items", json={"items": [item_json(i) for i in catalog()]}).status_code
        == 200
    )
    rng = np.random.default_rng(0)
    batch = [e for u in range(30) for e in history(rng, f"user-{u}", 6)] + victim_events()
    assert client.post("/v1/events", json={"events": batch}).json()["accepted"] == len(batch)
    yield Shop(client, engine, request.param, where)
    if shared is not None:
        keys = list(shared.client.scan_iter(match=f"{where}*"))
        if keys:
            shared.client.delete(*keys)
        shared.client.close()
    else:
        events.close()
        items.close()


def raw_mentions(shop: Shop, needle: str) -> list[str]:
    """Every stored row or Redis key/value that contains ``needle``, read past the stores' APIs."""
    found = []
    if shop.backend == "sqlite":
        with sqlite3.connect(shop.where) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):
                    if needle in repr(row):
                        found.append(f"{table}: {row!r}"[:200])
        db.close()
        # and on disk: erased rows are zeroed, the write-ahead log checkpointed
        for f in Path(shop.where).parent.glob(f"{DB_FILENAME}*"):
            if needle.encode() in f.read_bytes():
                found.append(f"bytes of {f.name}")
        return found
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(match=f"{shop.where}*"):
        kind = r.type(key).decode()
        if kind == "stream":
            values: list = [f for _, f in r.xrange(key)]
        elif kind == "string":
            values = [r.get(key)]
        elif kind == "list":
            values = r.lrange(key, 0, -1)
        elif kind == "set":
            values = list(r.smembers(key))
        elif kind == "hash":
            values = list(r.hgetall(key).items())
        elif kind == "zset":
            values = r.zrange(key, 0, -1)
        else:
            values = [f"unchecked type {kind}"]
        if needle in key.decode() or any(needle in repr(v) for v in values):
            found.append(f"{key.decode()} ({kind})")
    return found


def test_deleted_user_is_absent_from_every_store(shop: Shop) -> None:
    c = shop.client
    assert c.post("/v1/feedback", json={"user_id": VICTIM, "clicks": ["SKU-1"]}).status_code == 200
    # before: the user is everywhere (so the checks below can fail); the feedback click is
    # stored as an event too, beside the six the shop holds
    assert c.get(f"/v1/users/{VICTIM}/profile").json()["n_events"] == 7
    assert raw_mentions(shop, VICTIM)
    data = export_sequences(shop.engine.events, shop.engine.items)
    assert VICTIM in data.users

    r = c.delete(f"/v1/users/{VICTIM}")
    assert r.status_code == 200 and r.json() == {"user_id": VICTIM, "events_deleted": 7}

    assert shop.engine.events.user_events(VICTIM) == []
    assert all(e.user_id != VICTIM for _, e in shop.engine.events.replay())
    assert shop.engine.states.get(VICTIM) is None and VICTIM not in shop.engine.states.users()
    assert c.get(f"/v1/users/{VICTIM}/profile").json()["n_events"] == 0
    assert c.get(f"/v1/users/{VICTIM}/export").json() == {
        "user_id": VICTIM,
        "events": [],
        "state": None,
        "experiments": [],
        "exploration": [],
    }
    assert raw_mentions(shop, VICTIM) == []
    assert raw_mentions(shop, '"v1"') == []  # nor the ids of their events (dedup set)
    # the others are untouched
    assert c.get("/v1/users/user-3/profile").json()["n_events"] == 6
    after = export_sequences(shop.engine.events, shop.engine.items)
    assert VICTIM not in after.users and len(after.users) == len(data.users) - 1


@pytest.mark.parametrize("shop", ["redis"], indirect=True)  # exports copy the Redis stream
def test_deletion_reaches_the_training_export_files(shop: Shop, tmp_path: Path) -> None:
    """`shoprec export-events` copies the stream to files: DELETE rewrites them."""
    from shoprec.data.readers import read_events
    from shoprec.store.redis_export import export_events

    assert shop.engine.shared is not None
    out = tmp_path / "exported" / "events.csv"
    assert export_events(shop.engine.shared.log, out) > 0
    rows = read_events(out)
    mine = sum(e.user_id == VICTIM for e in rows)
    assert mine > 0
    assert shop.client.delete(f"/v1/users/{VICTIM}").status_code == 200
    back = read_events(out)
    assert VICTIM not in {e.user_id for e in back} and VICTIM not in out.read_text()
    assert len(back) == len(rows) - mine  # the victim's rows, nobody else's
    assert raw_mentions(shop, VICTIM) == []  # no pending erasure left in Redis either


def test_next_trained_artifact_excludes_the_deleted_user(shop: Shop, tmp_path: Path) -> None:
    from shoprec.data.splits import leave_one_out
    from shoprec.models.sasrec import SASRecConfig
    from shoprec.training.sasrec_job import BEST_CONFIG, data_fingerprint, train_sasrec

    settings = Settings(artifacts_dir=tmp_path / "artifacts", text_cache=tmp_path / "text.npz")
    config: SASRecConfig = replace(
        BEST_CONFIG, dim=16, n_negatives=16, epochs=2, eval_every=1, patience=1, batch_size=64
    )
    only = 1 + [it.item_id for it in catalog()].index(ONLY_VICTIM)

    def train(name: str) -> tuple[dict, int, str]:
        """Export, train, and read back from the artifact how often ``only`` was trained on."""
        data = export_sequences(shop.engine.events, shop.engine.items, name="shop")
        run = train_sasrec(data, settings, config, name, max_seconds=10, progress=False)
        manifest = json.loads((run.path / "manifest.json").read_text())
        assert manifest["data_fingerprint"] == data_fingerprint(data)
        # the checkpoint's item prior is log((count + 1) / (total + n)) over what it trained on
        counts = np.bincount(
            np.concatenate(leave_one_out(data.sequences).test_histories()),
            minlength=data.n_items + 1,
        )
        expected = np.log((counts + 1.0) / (counts.sum() + len(counts)))[1:]
        prior = np.load(run.path / "log_prior.npy", allow_pickle=False)[1:]
        np.testing.assert_allclose(prior, expected, rtol=1e-5)
        blob = "".join(p.read_bytes().decode("latin-1") for p in run.path.rglob("*") if p.is_file())
        return manifest, int(counts[only]), blob

    before, seen_before, _ = train("before")
    assert seen_before == 2  # the victim's purchase and review of the item only they touched

    assert shop.client.delete(f"/v1/users/{VICTIM}").json()["events_deleted"] == 6
    after, seen_after, blob = train("after")
    assert after["data_fingerprint"] != before["data_fingerprint"]
    assert seen_after == 0
    assert VICTIM not in blob  # and no file of the artifact names them
