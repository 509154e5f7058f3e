"""The HTTP API through the app factory, against the real embedded store (SQLite + memory)
and models trained on the synthetic shop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from serving_fixtures import synthetic_engine
from shoprec.serving.app import create_app
from shoprec.serving.build import Built


def feed(client: TestClient, user: str, n: int = 20, **params: object) -> dict:
    r = client.get(f"/v1/users/{user}/recommendations", params={"n": n, **params})
    assert r.status_code == 200, r.text
    return r.json()


def post(client: TestClient, *events: dict) -> dict:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    return r.json()


def test_feed_has_reasons_and_no_bought_items(client: TestClient, built: Built) -> None:
    user = built.data.users.to_list()[0]
    body = feed(client, user)
    assert body["fallback"] is None and len(body["items"]) == 20
    assert all(
        it["reasons"] and all(isinstance(r, str) and r for r in it["reasons"])
        for it in body["items"]
    )
    bought = set(built.engine.state(user).bought)
    assert not bought & {it["item_id"] for it in body["items"]}
    scores = [it["score"] for it in body["items"]]
    assert len(set(it["item_id"] for it in body["items"])) == 20 and np.isfinite(scores).all()


def test_purchase_leaves_feed_at_once(client: TestClient, built: Built) -> None:
    user = built.data.users.to_list()[1]
    top = feed(client, user, 10)["items"][0]["item_id"]
    assert post(client, {"user_id": user, "item_id": top, "type": "purchase"})["accepted"] == 1
    assert top not in {it["item_id"] for it in feed(client, user, 50)["items"]}


def test_view_shows_in_profile_and_lifts_neighbours(client: TestClient, built: Built) -> None:
    user = built.data.users.to_list()[2]
    item = built.data.items.to_list()[7]
    neighbours = {
        x["item_id"] for x in client.get(f"/v1/items/{item}/similar?n=10").json()["items"]
    }
    before = [it["item_id"] for it in feed(client, user, 100)["items"]]
    post(client, {"user_id": user, "item_id": item, "type": "view"})
    prof = client.get(f"/v1/users/{user}/profile").json()
    assert prof["recent"][0]["item_id"] == item and prof["interests"]
    after = [it["item_id"] for it in feed(client, user, 100)["items"]]

    def rank(lst: list[str], x: str) -> int:
        return lst.index(x) if x in lst else len(lst)

    gain = sum(rank(before, x) - rank(after, x) for x in neighbours)
    assert gain > 0, "neighbours of the viewed item should move up"


def test_neighbours_a_shopper_bought_give_way_to_the_next(client: TestClient, built: Built) -> None:
    """A shopper who bought an item's nearest neighbours: ``/similar?user_id=`` skips them,
    and viewing the item lifts the next nearest ones instead (the bought ones never show)."""
    user = built.data.users.to_list()[4]
    item = built.data.items.to_list()[11]
    nearest = [x["item_id"] for x in client.get(f"/v1/items/{item}/similar?n=6").json()["items"]]
    assert len(nearest) == 6
    post(client, *({"user_id": user, "item_id": x, "type": "purchase"} for x in nearest[:4]))
    mine = client.get(f"/v1/items/{item}/similar", params={"n": 6, "user_id": user}).json()
    eligible = [x["item_id"] for x in mine["items"]]
    assert len(eligible) == 6 and eligible[:2] == nearest[4:] and not set(eligible) & {*nearest[:4]}
    before = [it["item_id"] for it in feed(client, user, 50)["items"]]
    post(client, {"user_id": user, "item_id": item, "type": "view"})
    after = [it["item_id"] for it in feed(client, user, 50)["items"]]
    assert not set(after) & {*nearest[:4]}

    def rank(lst: list[str], x: str) -> int:
        return lst.index(x) if x in lst else len(lst)

    # the session slots: the i-th nearest eligible neighbour at position 3 + 5i or higher
    assert all(rank(after, x) <= 3 + 5 * i for i, x in enumerate(eligible[:4])), after
    assert sum(rank(before, x) - rank(after, x) for x in eligible) > 0


def test_event_id_is_applied_once(client: TestClient, built: Built) -> None:
    user, item = "dedup-user", built.data.items.to_list()[3]
    ev = {"user_id": user, "item_id": item, "type": "view", "event_id": "e-1"}
    assert post(client, ev, ev) == {"accepted": 1, "duplicates": 1}
    assert post(client, ev) == {"accepted": 0, "duplicates": 1}
    assert client.get(f"/v1/users/{user}/profile").json()["n_events"] == 1


def test_unknown_user_and_item_get_sensible_answers(client: TestClient) -> None:
    body = feed(client, "never-seen", 5)
    assert len(body["items"]) == 5 and body["fallback"]
    r = client.get("/v1/items/no-such-item/similar")
    assert r.status_code == 200 and r.json()["items"] == []
    prof = client.get("/v1/users/never-seen/profile").json()
    assert prof["n_events"] == 0 and prof["interests"] == []
    assert client.get("/v1/items/no-such-item").status_code == 404


def test_new_item_is_recommendable_at_once(client: TestClient, built: Built) -> None:
    # the search index exists before the upsert (as when any search came first): the new item
    # must still be found at once, not after the index's next full rebuild
    assert client.get("/v1/search", params={"q": "serum", "n": 5}).status_code == 200
    r = client.put(
        "/v1/items",
        json={
            "items": [
                {
                    "item_id": "NEW-SERUM",
                    "title": "Vitamin C brightening face serum with hyaluronic acid",
                    "category": "Skin Care > Serums",
                    "brand": "Brandnew",
                    "price": 21.5,
                }
            ]
        },
    )
    assert r.status_code == 200 and r.json() == {"upserted": 1, "new": 1}
    hits = client.get("/v1/search", params={"q": "vitamin C face serum", "n": 10}).json()["items"]
    assert "NEW-SERUM" in [h["item_id"] for h in hits]
    # a shopper who views it gets a feed built on it; cold shoppers see it among new arrivals
    post(client, {"user_id": "new-fan", "item_id": "NEW-SERUM", "type": "view"})
    assert feed(client, "new-fan", 10)["fallback"] is None
    ids = [it["item_id"] for it in feed(client, "u-cold", 100, category="Serums")["items"]]
    assert "NEW-SERUM" in ids


def test_filters(client: TestClient, built: Built) -> None:
    user = built.data.users.to_list()[4]
    items = feed(client, user, 20, min_price=10, max_price=30)["items"]
    cat = built.engine.catalog
    prices = [cat.items[cat.get(it["item_id"])].price for it in items]
    assert items and all(p is not None and 10 <= p <= 30 for p in prices)
    excl = items[0]["item_id"]
    assert excl not in [
        it["item_id"]
        for it in feed(client, user, 20, min_price=10, max_price=30, exclude=excl)["items"]
    ]


def test_anonymous_session(client: TestClient, built: Built) -> None:
    items = built.data.items.to_list()[:3]
    post(client, *[{"session_id": "s-42", "item_id": i, "type": "view"} for i in items])
    body = feed(client, "anonymous", 10, session_id="s-42")
    assert body["fallback"] is None and len(body["items"]) == 10


def test_delete_user(client: TestClient, built: Built) -> None:
    user = built.data.users.to_list()[5]
    assert client.get(f"/v1/users/{user}/profile").json()["n_events"] > 0
    r = client.delete(f"/v1/users/{user}")
    assert r.status_code == 200 and r.json()["events_deleted"] > 0
    assert client.get(f"/v1/users/{user}/profile").json()["n_events"] == 0
    assert built.engine.events.user_events(user) == []


def test_metrics_and_health(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    assert 'route="/v1/users/{user_id}/recommendations"' in text
    assert "shoprec_events_total" in text


def test_restart_rebuilds_state(built: Built, serving_root: Path, tmp_path: Path) -> None:
    first = synthetic_engine(serving_root, tmp_path)
    user = first.data.users.to_list()[0]
    c1 = TestClient(create_app(first.engine))
    item = first.data.items.to_list()[9]
    post(c1, {"user_id": user, "item_id": item, "type": "add_to_cart", "event_id": "r-1"})
    prof = c1.get(f"/v1/users/{user}/profile").json()
    first.engine.events.close()
    again = synthetic_engine(serving_root, tmp_path)
    c2 = TestClient(create_app(again.engine))
    assert c2.get(f"/v1/users/{user}/profile").json() == prof
