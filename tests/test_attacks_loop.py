"""Issue 23, Why 4: nothing blocks the event loop. Against a real ``shoprec serve``: while the
erasure of a shopper runs (made to last over a second: a reader of the database holds the WAL
checkpoint that ends it), an event sent meanwhile must not freeze the server; ``/healthz``
answers while the erasure is still running. (How fast it answers is bench/loop_latency.py's.)

On the code before the fix, ``POST /v1/events`` was ``async`` and waited for the engine's
lock, which the erasure held throughout: the loop, and so every request, stood still."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving_fixtures import served_store

#: Events of the shopper erased (scanned and rewritten by the erasure).
N_EVENTS = 5_000


@pytest.fixture(scope="module")
def shop(built, serving_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    store = tmp_path_factory.mktemp("loop-store")
    with served_store(serving_root, store) as url:
        yield url, store


def test_healthz_answers_while_an_erasure_runs(shop: tuple[str, Path]) -> None:
    url, store = shop
    with httpx.Client(base_url=url, timeout=60) as http:
        item = http.get("/v1/search", params={"q": "cream", "n": 1}).json()["items"][0]["item_id"]
        for start in range(0, N_EVENTS, 1000):
            batch = [
                {"user_id": "big-shopper", "item_id": item, "type": "view"}
                for _ in range(start, min(N_EVENTS, start + 1000))
            ]
            assert http.post("/v1/events", json={"events": batch}).status_code == 200
    # a reader on an old snapshot: the erasure's WAL checkpoint waits for it (up to its limit)
    reader = sqlite3.connect(store / "shoprec.db")
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM events").fetchone()
    done: dict[str, float] = {}

    def erase() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            r = http.delete("/v1/users/big-shopper")
            assert r.status_code == 200 and r.json()["events_deleted"] == N_EVENTS
        done["erased"] = time.monotonic()

    def send_event() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            ev = {"user_id": "bystander", "item_id": item, "type": "view"}
            assert http.post("/v1/events", json={"events": [ev]}).status_code == 200

    try:
        threads = [threading.Thread(target=erase), threading.Thread(target=send_event)]
        threads[0].start()
        time.sleep(0.3)  # the erasure is under way
        threads[1].start()
        time.sleep(0.1)
        t0 = time.monotonic()
        with httpx.Client(base_url=url, timeout=60) as http:
            assert http.get("/healthz").status_code == 200
        answered = time.monotonic()
    finally:
        time.sleep(0.5)
        reader.rollback()
        reader.close()
    for t in threads:
        t.join(timeout=60)
    # functional, not a speed figure: the liveness probe did not wait for the erasure to end
    assert "erased" in done
    assert answered < done["erased"], (answered - t0, done["erased"] - t0)
    assert answered - t0 < 0.5
