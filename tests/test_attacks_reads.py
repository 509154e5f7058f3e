"""Issue 23, Why 6 and two of Why 10: reads never write unbounded state, nor walk the whole
store. Against a real ``shoprec serve`` over a private redis-server, its keys read directly:
while an experiment runs, feed requests for never-seen shopper ids write no record of them
(the variant is a hash of the id); in ``explore`` mode the log stops at the experiment's
``log_limit``; ``/``, ``/v1/stats`` and ``/metrics`` polled again and again send Redis no
``SCAN``; an existing item's new text is what search finds.

On the code before the fix, every never-seen id wrote an assignment record for ever, every
explore request a log record (and ``log_limit`` did not exist), and each of those pages
walked every key of the store with ``SCAN``."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from redis_fixtures import RedisServer, start_shop


@pytest.fixture(scope="module")
def shop(built, serving_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    server = RedisServer(tmp_path_factory.mktemp("reads-redis")).start()
    proc, base = start_shop(serving_root, server.url, workers=1)
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            yield http, redis.Redis.from_url(server.url)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        server.kill()


def records(r: redis.Redis, prefix: str = "") -> int:
    """Experiment records (keys) whose name starts with ``prefix``."""
    return sum(1 for _ in r.scan_iter(match=f"shoprec:experiments:state:{prefix}*", count=1000))


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


def scans(r: redis.Redis) -> int:
    return int(r.info("commandstats").get("cmdstat_scan", {}).get("calls", 0))


def test_polled_pages_do_not_walk_the_store(shop) -> None:  # noqa: ANN001
    """Why 10: the dashboard polls ``/v1/stats`` every 2 s, a scraper ``/metrics``; each
    walked every key of Redis (``SCAN``) for the shopper count, and ``/`` for its sample."""
    http, r = shop
    pages = ("/v1/stats", "/metrics", "/")
    for path in pages:  # the first asks may walk once (a cached figure is filled)
        assert http.get(path).status_code == 200
    before = scans(r)
    for _ in range(10):
        for path in pages:
            assert http.get(path).status_code == 200
    assert scans(r) == before
    assert http.get("/v1/stats").json()["shoppers"] > 0


def test_search_follows_an_existing_items_new_text(shop) -> None:  # noqa: ANN001
    """Why 10: an item whose text changes is found by the new text, not the old."""
    http, _ = shop
    hit = http.get("/v1/search", params={"q": "serum", "n": 1}).json()["items"][0]["item_id"]
    item = http.get(f"/v1/items/{hit}").json()
    old_title = item["title"]
    new = {"item_id": hit, "title": "Quorbly hovercraft wax", "description": "zeppelin polish",
           "category": item["category"], "price": item["price"]}  # fmt: skip
    assert http.put("/v1/items", json={"items": [new]}).status_code == 200
    found = http.get("/v1/search", params={"q": "quorbly hovercraft", "n": 3}).json()["items"]
    assert found and found[0]["item_id"] == hit
    again = http.get("/v1/search", params={"q": old_title, "n": 5}).json()["items"]
    assert hit not in [h["item_id"] for h in again[:1]]
