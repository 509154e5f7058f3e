"""The serving process's collector settings (``heap.settle``) against the defaults, on the
load that showed the cost: 1,000-event batches with random shoppers and UUID event ids."""

from __future__ import annotations

import gc
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoprec.serving import heap
from shoprec.serving.app import create_app


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def _full_collections(client: TestClient, users: list[str], items: list[str], seed: int) -> int:
    """Full collections while 20 batches of 1,000 events are posted."""
    rng, full = random.Random(seed), []

    def count(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(count)
    try:
        for _ in range(20):
            batch = [
                {
                    "user_id": rng.choice(users),
                    "item_id": rng.choice(items),
                    "type": "view",
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                }
                for _ in range(1000)
            ]
            r = client.post("/v1/events", json={"events": batch})
            assert r.status_code == 200 and r.json()["accepted"] == 1000, r.text
    finally:
        gc.callbacks.remove(count)
    return len(full)


def test_settle_spares_ingestion_the_full_collections(
    serving_root: Path, tmp_path: Path, restore_gc: None
) -> None:
    from serving_fixtures import synthetic_engine

    built = synthetic_engine(serving_root, tmp_path)  # its own store: 40,000 events land here
    client = TestClient(create_app(built.engine))
    users = [f"heap-{k}" for k in range(2000)]
    items = list(built.engine.catalog.ids[1:])
    gc.collect()
    gc.freeze()  # what serve did before: the built engine frozen, the default thresholds
    gc.set_threshold(700, 10, 10)
    # a full collection after the freeze, as a serving process soon runs one: from then on
    # the collector's quarter rule counts against the few unfrozen objects, not the engine
    gc.collect()
    assert _full_collections(client, users, items, 0) > 0  # the cost is real
    heap.settle()
    assert gc.get_threshold() == heap.THRESHOLDS and gc.get_freeze_count() > 0
    gc.collect()
    assert _full_collections(client, users, items, 1) == 0
