"""Login merge: an event naming both ``user_id`` and ``session_id`` folds the anonymous session's
history into the shopper once, the merge is redone when the log is replayed (embedded restart,
Redis rebuild), works through the Redis backend, and erasing the user erases the merged
history; anonymous feeds at ``GET /v1/sessions/{id}/recommendations`` (through a real server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from shoprec.data.keys import session_key
from shoprec.online.state import UserState
from shoprec.serving.app import create_app
from shoprec.serving.engine import Engine
from shoprec.store import MemoryStateStore, open_embedded

REDIS_URL = "redis://127.0.0.1:6379/15"
CATS = [("Makeup", "Lips"), ("Hair", "Shampoo"), ("Skin", "Serum")]


def fake_vectors(texts: list[str]) -> np.ndarray:
    """Unit vectors by text (no encoder to load: the merge reads no text)."""
    rng = np.random.default_rng(len(texts))
    v = rng.normal(size=(len(texts), 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@dataclass
class Shop:
    engine: Engine
    client: TestClient
    kind: str
    where: Path | str
    shared: object | None = None


def open_shop(kind: str, where: Path | str) -> Shop:
    shared = None
    if kind == "sqlite":
        events, items = open_embedded(Path(where))
        states = MemoryStateStore[UserState]()
    else:
        from shoprec.serving.shared import SharedState

        try:
            shared = SharedState(REDIS_URL, prefix=str(where))
            shared.client.ping()
        except redis.ConnectionError as exc:
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}", pytrace=False)
        events, items, states = shared.log, shared.items, shared.states
    engine = Engine(events, items, states, fake_vectors, shared=shared)
    return Shop(engine, TestClient(create_app(engine)), kind, where, shared)


@pytest.fixture(params=["sqlite", "redis"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    where = tmp_path if request.param == "sqlite" else f"test:merge:{uuid.uuid4().hex}:"
    s = open_shop(request.param, where)
    items = [
        {"item_id": f"SKU-{k}", "title": f"thing {k}", "category": list(CATS[k % 3])}
        for k in range(12)
    ]
    assert s.client.put("/v1/items", json={"items": items}).status_code == 200
    yield s  # the test closes the stores it ends with (it reopens them)
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{where}*"))
        if keys:
            client.delete(*keys)
        client.close()


def close(s: Shop) -> None:
    if s.shared is not None:
        s.shared.close()  # type: ignore[attr-defined]
    else:
        s.engine.events.close()
        s.engine.items.close()


def post(s: Shop, *events: dict) -> None:
    r = s.client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text


def ev(item: str, ts: float, user: str = "", session: str | None = None, typ: str = "view") -> dict:
    out = {"user_id": user, "item_id": item, "type": typ, "timestamp": ts}
    return {**out, "session_id": session} if session else out


def recent(state: UserState | None) -> list[str]:
    assert state is not None
    return [i for i, _, _ in state.recent]


def test_login_merges_once_and_replay_rebuilds_it(shop: Shop) -> None:
    user, sid = "shopper-merge", "anon-s1"
    post(shop, ev("SKU-2", 50.0, user=user))  # signed-in history from before
    post(shop, ev("SKU-0", 100.0, session=sid), ev("SKU-3", 110.0, session=sid, typ="purchase"))
    engine = shop.engine
    assert recent(engine.state(session_key(sid))) == ["SKU-0", "SKU-3"]

    post(shop, ev("SKU-6", 120.0, user=user, session=sid))  # signs in
    st = engine.state(user)
    assert recent(st) == ["SKU-2", "SKU-0", "SKU-3", "SKU-6"]  # interleaved by time
    assert st is not None and st.bought == {"SKU-3"} and st.n_events == 4
    assert st.session_id == sid and st.session_items == ["SKU-0", "SKU-3", "SKU-6"]
    tags = {t for t, _ in st.interests()}
    assert {"department:Makeup", "department:Skin"} <= tags  # the session's and the user's
    assert engine.state(session_key(sid)) is None  # moved, not copied
    feed = shop.client.get(f"/v1/users/{user}/recommendations?n=12").json()
    assert "SKU-3" not in {x["item_id"] for x in feed["items"]}  # the session's purchase

    post(shop, ev("SKU-9", 130.0, user=user, session=sid))  # a second login event: no refold
    st = engine.state(user)
    assert recent(st) == ["SKU-2", "SKU-0", "SKU-3", "SKU-6", "SKU-9"] and st.n_events == 5
    before = st.to_dict()

    # restart: the states are rebuilt from the log, the merge redone at the same event
    shop = restart(shop)
    assert shop.engine.state(user).to_dict() == before  # type: ignore[union-attr]
    assert shop.engine.state(session_key(sid)) is None

    # erasing the user erases what the session did, merged or after, also from the log
    post(shop, ev("SKU-1", 140.0, session=sid), ev("SKU-1", 141.0, session="someone-else"))
    r = shop.client.delete(f"/v1/users/{user}")
    assert r.status_code == 200 and r.json()["events_deleted"] == 6  # 3 signed in, 3 anonymous
    shop = restart(shop)
    assert shop.engine.state(user) is None and shop.engine.state(session_key(sid)) is None
    assert shop.engine.state(session_key("someone-else")) is not None
    left = [e for _, e in shop.engine.events.replay() if e.session_id == sid or e.user_id == user]
    assert left == []
    close(shop)


def restart(shop: Shop) -> Shop:
    """The same stores opened again, the states rebuilt from the log (Redis: from scratch)."""
    if shop.kind == "redis":
        shop.engine.states.clear()  # type: ignore[attr-defined]
    close(shop)
    again = open_shop(shop.kind, shop.where)
    again.engine.load()
    if again.shared is not None:
        again.shared.rebuild(again.engine.fold)  # type: ignore[attr-defined]
    return again


def test_absorb_without_login_history() -> None:
    session = UserState()
    from shoprec.data.records import Event, EventType

    session.apply(Event("", "a", EventType.VIEW, 10.0, session_id="s"), ["Makeup"])
    session.apply(Event("", "b", EventType.PURCHASE, 20.0, session_id="s"), ["Makeup"])
    user = UserState()
    user.absorb(session)
    assert user.to_dict() == session.to_dict()  # a new shopper becomes the session


def test_session_feed_and_merge_through_a_real_server(live_server: str) -> None:
    tag = uuid.uuid4().hex[:8]
    sid, user = f"live-merge-{tag}", f"live-merge-user-{tag}"
    with httpx.Client(base_url=live_server, timeout=30) as http:
        empty = http.get(f"/v1/sessions/{sid}/recommendations", params={"n": 5})
        assert empty.status_code == 200, empty.text
        assert empty.json()["fallback"] and empty.json()["user_id"] == f"session:{sid}"
        items = [x["item_id"] for x in empty.json()["items"]]
        events = [
            {"session_id": sid, "item_id": i, "type": "view", "event_id": f"{sid}-{k}"}
            for k, i in enumerate(items[:3])
        ]
        assert http.post("/v1/events", json={"events": events}).status_code == 200
        feed = http.get(f"/v1/sessions/{sid}/recommendations", params={"n": 5}).json()
        assert feed["fallback"] is None
        old = http.get("/v1/users/anyone/recommendations", params={"n": 5, "session_id": sid})
        assert [x["item_id"] for x in old.json()["items"]] == [
            x["item_id"] for x in feed["items"]
        ]  # the old form still serves the session

        login = {"user_id": user, "session_id": sid, "item_id": items[3], "type": "view"}
        assert http.post("/v1/events", json={"events": [login]}).json()["accepted"] == 1
        profile = http.get(f"/v1/users/{user}/profile").json()
        assert [r["item_id"] for r in profile["recent"]][::-1] == items[:4]
        assert profile["n_events"] == 4 and profile["session_id"] == sid
        after = http.get(f"/v1/sessions/{sid}/recommendations", params={"n": 5}).json()
        assert after["fallback"]  # the history moved to the user

        # a type the shop did not declare (this server declares none): 422 naming the known ones
        wish = {"user_id": user, "item_id": items[0], "type": "wishlist"}
        refused = http.post("/v1/events", json={"events": [wish]})
        assert refused.status_code == 422 and "known types: add_to_cart" in refused.text
