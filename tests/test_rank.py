"""POST /v1/rank (a caller's list re-ranked for a shopper) and scores that follow the order of
every list: the feed, similar items and /v1/rank (issue 24)."""

from __future__ import annotations

from itertools import pairwise

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from shoprec.ranking.rerank import follow_order
from shoprec.serving.build import Built


def descending(items: list[dict]) -> bool:
    scores = [it["score"] for it in items]
    return bool(np.isfinite(scores).all()) and all(a >= b for a, b in pairwise(scores))


def rank(client: TestClient, body: dict, status: int = 200) -> dict:
    r = client.post("/v1/rank", json=body)
    assert r.status_code == status, r.text
    return r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "u", "items": []}, "items"),
        ({"user_id": "u", "items": [f"x{i}" for i in range(1001)]}, "items"),
        ({"user_id": "u", "items": [""]}, "items.0"),
        ({"user_id": "u", "items": ["a"], "n": 0}, "n"),
        ({"user_id": "u", "items": ["a"], "n": True}, "n"),
        ({"user_id": "u", "items": ["a"], "context": {"colour": "red"}}, "context.colour"),
        ({"user_id": "u", "items": ["a"], "extra": 1}, "extra"),
        ({"items": ["a"]}, "body"),
    ],
)
def test_rank_refuses_bad_input_naming_the_field(
    client: TestClient, body: dict, field: str
) -> None:
    err = rank(client, body, 422)
    assert err["errors"][0]["field"] == field, err
    if field == "body":
        assert "user_id or session_id" in err["error"]


def test_rank_orders_the_list_and_keeps_every_item(client: TestClient, built: Built) -> None:
    user = built.data.users.to_list()[-3]
    bought = sorted(built.engine.state(user).bought)[:2]
    catalog = built.data.items.to_list()
    stock = built.engine.catalog.in_stock
    given = [i for i in catalog[::7] if i not in bought and stock[built.engine.catalog.get(i)]]
    given = given[:40]
    items = [*given[:20], "no-such-item-b", *bought, given[0], *given[20:], "no-such-item-a"]
    body = rank(client, {"user_id": user, "items": items})
    got = [it["item_id"] for it in body["items"]]
    assert sorted(got) == sorted(set(items)) and len(got) == len(set(items))  # nothing dropped
    assert body["unknown"] == ["no-such-item-b", "no-such-item-a"]  # named, in the order given
    assert got[-2:] == body["unknown"] and body["items"][-1]["reasons"] == ["Not in the catalog"]
    assert body["duplicates"] == [given[0]]
    assert body["demoted"]["bought"] == bought and set(got[-4:-2]) == set(bought)
    assert all(it["reasons"][0] == "You bought this already" for it in body["items"][-4:-2])
    assert body["fallback"] is None and descending(body["items"])
    ranked = body["items"][:40]
    assert all(it["reasons"] and it["model_score"] is not None for it in ranked)
    assert got[:40] != given  # re-ranked, not echoed
    # n cuts the answer; the shopper's bought items may be kept with the others
    top = rank(client, {"user_id": user, "items": items, "n": 5})
    assert [it["item_id"] for it in top["items"]] == got[:5]
    kept = rank(client, {"user_id": user, "items": items, "context": {"keep_bought": True}})
    assert kept["demoted"]["bought"] == [] and descending(kept["items"])
    assert set(bought) <= {it["item_id"] for it in kept["items"][:42]}


def test_rank_for_a_new_shopper_and_a_session(client: TestClient, built: Built) -> None:
    items = built.data.items.to_list()[:30]
    new = rank(client, {"user_id": "rank-test-nobody", "items": items})
    assert new["fallback"] and sorted(it["item_id"] for it in new["items"]) == sorted(items)
    assert descending(new["items"])
    anon = rank(client, {"session_id": "rank-test-session", "items": items[:3]})
    assert anon["session_id"] == "rank-test-session" and len(anon["items"]) == 3


def test_rank_applies_the_shops_rules(client: TestClient, built: Built) -> None:
    stock, get = built.engine.catalog.in_stock, built.engine.catalog.get
    items = [i for i in built.data.items.to_list()[40:80] if stock[get(i)]][:20]
    made = [
        client.post("/v1/rules", json=rule).json()["rule_id"]
        for rule in (
            {"action": "block", "target": {"type": "item", "value": items[0]}},
            {"action": "boost", "target": {"type": "item", "value": items[1]}, "strength": 10},
        )
    ]
    try:
        body = rank(client, {"user_id": "rank-test-rules", "items": items})
    finally:  # the engine is shared: no rule outlives the test
        for rule_id in made:
            client.delete(f"/v1/rules/{rule_id}")
    assert body["demoted"]["blocked"] == [items[0]] and body["items"][-1]["item_id"] == items[0]
    assert body["items"][-1]["reasons"][0] == "Held back by the shop's rules"
    assert body["items"][0]["item_id"] == items[1] and body["items"][0]["reasons"][0] == "Featured"
    assert descending(body["items"]) and len(body["items"]) == len(items)


def test_feed_and_similar_scores_follow_their_order(client: TestClient, built: Built) -> None:
    users = built.data.users.to_list()
    for user in [*users[-12:-4], "rank-test-new-shopper"]:
        feed = client.get(f"/v1/users/{user}/recommendations?n=20").json()
        assert len(feed["items"]) == 20 and descending(feed["items"]), feed
        assert any(it.get("model_score") is not None for it in feed["items"]) or feed["fallback"]
    for item in built.data.items.to_list()[:40:4]:
        similar = client.get(f"/v1/items/{item}/similar?n=20").json()
        assert descending(similar["items"]), similar


def test_follow_order_fills_rule_placed_positions() -> None:
    assert follow_order([3.0, None, 1.0, None]) == [3.0, 2.0, 1.0, -1.0]
    assert follow_order([None, 2.0, 2.5]) == [3.0, 2.0, 2.0]  # a rise is lowered, never kept
    assert follow_order([None, None]) == [0.0, -1.0]


def test_rank_through_a_real_server(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        feed = http.get("/v1/users/rank-live-shopper/recommendations?n=10").json()["items"]
        items = [it["item_id"] for it in feed][::-1] + ["rank-live-unknown"]
        r = http.post("/v1/rank", json={"user_id": "rank-live-shopper", "items": items})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [it["item_id"] for it in body["items"]][-1] == "rank-live-unknown"
        assert body["unknown"] == ["rank-live-unknown"] and descending(body["items"])
        assert sorted(it["item_id"] for it in body["items"]) == sorted(items)
        too_long = http.post("/v1/rank", json={"user_id": "x", "items": ["a"] * 1001})
        assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "items"
