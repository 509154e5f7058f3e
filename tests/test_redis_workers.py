"""Two ``shoprec serve`` workers over one (private) Redis: a write through one worker is read
through the other on the very next request, concurrent writes for one shopper are all folded,
and events a dead replica stored but never folded are folded by the profile-updater group.

Last (it kills Redis): Redis killed under the served shop: the home feed still answers (from
trending, flagged), events are refused with 503 + Retry-After (never acknowledged and lost),
/metrics counts both; Redis back (AOF, fsync always): events are accepted again within seconds,
no restart, and every event acknowledged before the outage is still in the stream. One server
for all: it is the slow part (about 30 s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redis_fixtures import RedisServer, start_shop
from shoprec.data.keys import state_key
from shoprec.data.records import Event, EventType
from shoprec.experiments.registry import REFRESH_S
from shoprec.serving.process import client_on_worker
from shoprec.serving.process import stop as stop_shop
from shoprec.serving.recommend import STORE_DOWN
from shoprec.store.redis_health import connect
from shoprec.store.redis_log import RedisEventLog


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def shop(built, serving_root: Path, redis_server: RedisServer) -> Iterator[str]:
    proc, base = start_shop(serving_root, redis_server.url, workers=2)
    yield base
    stop_shop(proc)


@pytest.fixture(scope="module")
def two(shop: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    a, pid_a = client_on_worker(shop)
    b, _ = client_on_worker(shop, avoid=pid_a)
    yield a, b
    a.close()
    b.close()


def _feed(c: httpx.Client, user: str) -> dict:
    r = c.get(f"/v1/users/{user}/recommendations", params={"n": 20})
    assert r.status_code == 200
    return r.json()


@pytest.mark.timeout(300)
def test_write_through_one_worker_is_read_through_the_other(built, two) -> None:
    a, b = two
    assert (
        a.get("/healthz").headers["x-shoprec-worker"]
        != b.get("/healthz").headers["x-shoprec-worker"]
    )
    users = built.data.users.to_list()
    for k in range(30):
        writer, reader = (a, b) if k % 2 == 0 else (b, a)
        user = users[k * 7 % len(users)]
        feed = _feed(reader, user)
        assert feed["fallback"] is None  # a known shopper: their state is in Redis
        item = feed["items"][0]["item_id"]
        ev = {"user_id": user, "item_id": item, "type": "purchase", "event_id": f"xw-{k}"}
        r = writer.post("/v1/events", json={"events": [ev]})
        assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
        assert item not in [x["item_id"] for x in _feed(reader, user)["items"]]
        prof = reader.get(f"/v1/users/{user}/profile").json()
        assert prof["recent"][0]["item_id"] == item and item in prof["bought"]
        # the same event_id through the other worker is a duplicate, not a second purchase
        again = reader.post("/v1/events", json={"events": [ev]}).json()
        assert again == {"accepted": 0, "duplicates": 1}
    # memory per shopper in Redis is reported (sampled MEMORY USAGE)
    assert 0 < _metric(a.get("/metrics").text, 'shoprec_redis_state_bytes{stat="max"}') < 1e6
    # /metrics sums the workers (multiprocess mode): 15 purchases went through each, and
    # whichever worker answers counts all 30, and 30 duplicates
    for c in (a, b):
        text = c.get("/metrics").text
        assert _metric(text, "shoprec_events_total") >= 30
        assert _metric(text, "shoprec_duplicate_events_total") >= 30


@pytest.mark.timeout(300)
def test_concurrent_writes_for_one_shopper_are_all_folded(built, two) -> None:
    a, b = two
    items = built.data.items.to_list()
    user = "concurrent-shopper"

    def send(c: httpx.Client, tag: str) -> None:
        for k in range(60):
            ev = {"user_id": user, "item_id": items[k % 50], "type": "view"}
            ev["event_id"] = f"{tag}{k}"
            assert c.post("/v1/events", json={"events": [ev]}).status_code == 200

    threads = [threading.Thread(target=send, args=(c, t)) for c, t in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.get(f"/v1/users/{user}/profile").json()["n_events"] == 120
    assert b.get(f"/v1/users/{user}/profile").json()["n_events"] == 120


@pytest.mark.timeout(300)
def test_anonymous_session_state_expires(built, two, redis_server: RedisServer) -> None:
    """Memory per shopper is bounded in time too: anonymous sessions' state has a TTL."""
    a, b = two
    item = built.data.items.to_list()[1]
    ev = {"user_id": "", "session_id": "anon-1", "item_id": item, "type": "view"}
    assert a.post("/v1/events", json={"events": [ev]}).status_code == 200
    feed = b.get("/v1/users/anon/recommendations", params={"session_id": "anon-1"}).json()
    assert feed["fallback"] is None  # the session's state, read through the other worker
    ttl = connect(redis_server.url).ttl("shoprec:state:session:anon-1")
    assert 0 < ttl <= 7 * 86400


@pytest.mark.timeout(300)
def test_profile_updater_folds_what_a_dead_replica_left(built, two, redis_server) -> None:
    """A replica that stored events and died before folding them: the group folds them."""
    a, _ = two
    item = built.data.items.to_list()[3]
    user = "orphaned-shopper"
    log = RedisEventLog(connect(redis_server.url), state_key=lambda e: state_key(e.user_id, None))
    assert log.append([Event(user, item, EventType.ADD_TO_CART, 2e9, "orphan-1")]) == [True]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        prof = a.get(f"/v1/users/{user}/profile").json()
        if prof["n_events"]:
            break
        time.sleep(0.1)
    assert prof["n_events"] == 1 and prof["recent"][0]["item_id"] == item
    log.close()


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.timeout(300)
def test_experiment_started_through_one_worker_runs_on_both(built, two) -> None:
    """Experiments live in Redis: started through one worker, served with the same sticky
    variant by both, counted once whichever served, stopped through the other."""
    a, b = two
    body = {
        "name": "across",
        "variants": [
            {"name": "control", "strategy": {}},
            {"name": "flat", "strategy": {"rerank": False}},
        ],
        "traffic": [0.5, 0.5],
    }
    assert a.post("/v1/experiments", json=body).status_code == 201
    time.sleep(REFRESH_S + 0.2)  # b reads the shared definitions at most this late
    users = built.data.users.to_list()[:40]
    variant = {}
    for k, user in enumerate(users):
        feed = _feed(b if k % 2 else a, user)
        assert feed["experiment"] == "across", feed
        variant[user] = feed["variant"]
    assert set(variant.values()) == {"control", "flat"}
    for k, user in enumerate(users):  # the other worker: the same variant
        feed = _feed(a if k % 2 else b, user)
        assert feed["variant"] == variant[user]
        # a shopper counts once their feedback (the exposure) arrives, through either worker
        shown = {"user_id": user, "impressions": [feed["items"][0]["item_id"]], "clicks": []}
        assert (b if k % 2 else a).post("/v1/feedback", json=shown).status_code == 200
    rows = b.get("/v1/experiments/across").json()["variants"]
    assert sum(r["users"] for r in rows) == 40 and sum(r["lists"] for r in rows) == 80
    stop = b.post("/v1/experiments/across/stop", json={"action": "rollback"})
    assert stop.status_code == 200
    time.sleep(REFRESH_S + 0.2)
    assert _feed(a, users[0])["experiment"] is None
    assert a.post("/v1/experiments/across/stop", json={}).status_code == 409


@pytest.mark.timeout(300)
def test_redis_outage_degrades_and_recovers(built, two, redis_server: RedisServer) -> None:
    users, items = built.data.users.to_list(), built.data.items.to_list()
    user = users[5]
    c = two[0]  # one connection, one worker: its /metrics counts what it answered

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
