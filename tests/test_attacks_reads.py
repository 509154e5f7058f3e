"""Issue 23, Why 6: reads never write unbounded state. Against a real ``shoprec serve`` on an
embedded store, with the SQLite file read directly: while an experiment runs, feed requests
for never-seen shopper ids write no record of them (the variant is a hash of the id); in
``explore`` mode the log stops at the experiment's ``log_limit``.

On the code before the fix, every never-seen id wrote an assignment record for ever, and
every explore request a log record (and ``log_limit`` did not exist)."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving_fixtures import free_port, serve_synthetic


@pytest.fixture(scope="module")
def shop(built, serving_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    store = tmp_path_factory.mktemp("reads-store")
    port = free_port()
    proc = serve_synthetic(serving_root, ["--store", str(store)], port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield http, store / "shoprec.db"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def records(db: Path, prefix: str = "") -> int:
    with sqlite3.connect(db) as conn:
        sql = "SELECT COUNT(*) FROM experiments WHERE substr(key, 1, ?) = ?"
        return int(conn.execute(sql, (len(prefix), prefix)).fetchone()[0])


def test_a_flood_of_new_ids_writes_nothing_while_an_experiment_runs(shop) -> None:  # noqa: ANN001
    http, db = shop
    body = {"name": "flood", "variants": [{"name": "a"}, {"name": "b", "strategy": {}}]}
    assert http.post("/v1/experiments", json=body).status_code == 201
    try:
        http.get("/v1/users/warm-up/recommendations", params={"n": 3})  # the process's totals
        before = records(db)
        seen = {}
        for i in range(150):
            r = http.get(f"/v1/users/flood-{i}/recommendations", params={"n": 3}).json()
            assert r["experiment"] == "flood"
            seen[f"flood-{i}"] = r["variant"]
        assert records(db) == before
        assert set(seen.values()) == {"a", "b"}
        for user, variant in list(seen.items())[:20]:  # still sticky: the hash decides
            r = http.get(f"/v1/users/{user}/recommendations", params={"n": 3}).json()
            assert r["variant"] == variant
        # feedback is the exposure: one record, counted in the report
        fb = {"user_id": "flood-0", "impressions": ["x"], "clicks": []}
        assert http.post("/v1/feedback", json=fb).status_code == 200
        assert records(db, "user:flood:") == 1
        rows = http.get("/v1/experiments/flood").json()["variants"]
        assert sum(r["users"] for r in rows) == 1 and sum(r["lists"] for r in rows) == 171
    finally:
        http.post("/v1/experiments/flood/stop", json={"action": "rollback"})


def test_the_exploration_log_stops_at_its_limit(shop) -> None:  # noqa: ANN001
    http, db = shop
    grid = [{"name": "base"}, {"name": "plain", "strategy": {"rerank": False}}]
    body = {"name": "explore-flood", "variants": grid, "mode": "explore", "log_limit": 40}
    r = http.post("/v1/experiments", json=body)
    assert r.status_code == 201, r.text
    try:
        ids = []
        for i in range(100):
            res = http.get(f"/v1/users/ex-flood-{i}/recommendations", params={"n": 3}).json()
            assert res["experiment"] == "explore-flood" and res["items"]
            ids.append(res["request_id"])
        assert all(ids[:40]) and ids[40:] == [None] * 60
        assert records(db, "log:explore-flood:") == 40
        assert records(db, "touch:explore-flood:") == 40
    finally:
        http.post("/v1/experiments/explore-flood/stop", json={"action": "rollback"})
