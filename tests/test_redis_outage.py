"""Redis killed under a served shop: the home feed still answers (from trending, flagged),
events are refused with 503 + Retry-After (never acknowledged and lost), /metrics counts both;
Redis back (AOF, fsync always): events are accepted again within seconds, no restart, and every
event acknowledged before the outage is still in the stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redis_fixtures import RedisServer, start_shop, stop_shop
from shoprec.serving.engine import STORE_DOWN
from shoprec.store.redis import RedisEventLog, connect


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis-outage")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def shop(built, serving_root: Path, redis_server: RedisServer) -> Iterator[str]:
    proc, base = start_shop(serving_root, redis_server.url, workers=1)
    yield base
    stop_shop(proc)


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.timeout(300)
def test_redis_outage_degrades_and_recovers(built, shop: str, redis_server: RedisServer) -> None:
    users, items = built.data.users.to_list(), built.data.items.to_list()
    user = users[5]
    c = httpx.Client(base_url=shop, timeout=10)

    def post(eid: str) -> httpx.Response:
        ev = {"user_id": user, "item_id": items[len(eid) % len(items)], "type": "view"}
        return c.post("/v1/events", json={"events": [{**ev, "event_id": eid}]})

    acked = [f"before-{k}" for k in range(20)]
    assert all(post(e).status_code == 200 for e in acked)
    assert c.get(f"/v1/users/{user}/recommendations").json()["fallback"] is None

    redis_server.kill()
    for _ in range(5):
        feed = c.get(f"/v1/users/{user}/recommendations", params={"n": 10})
        assert feed.status_code == 200
        assert feed.json()["fallback"] == STORE_DOWN and len(feed.json()["items"]) == 10
        r = post("during")
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "store" in r.json()["error"]
    assert c.get(f"/v1/users/{user}/profile").status_code == 503
    metrics = c.get("/metrics").text
    assert _metric(metrics, 'shoprec_fallbacks_total{reason="store unavailable') >= 5
    assert _metric(metrics, "shoprec_events_refused_total") >= 5
    assert _metric(metrics, "shoprec_store_up") == 0

    redis_server.start()  # same port, same AOF
    back = time.monotonic()
    while post("after").status_code != 200:
        assert time.monotonic() - back < 5, "events not accepted within 5 s of Redis returning"
        time.sleep(0.05)
    assert c.get(f"/v1/users/{user}/recommendations").json()["fallback"] is None
    prof = c.get(f"/v1/users/{user}/profile").json()
    assert prof["recent"][0]["item_id"] == items[len("after") % len(items)]
    log = RedisEventLog(connect(redis_server.url))
    stored = {e.event_id for e in log.user_events(user)}
    assert set(acked) <= stored and "after" in stored
    log.close()
    c.close()
