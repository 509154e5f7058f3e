"""Malformed requests of every kind get a 4xx naming the problem, never a 5xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

GOOD = {"user_id": "u", "item_id": "i", "type": "view", "timestamp": 1.7e9}


def ev(**changes: object) -> dict:
    out = {**GOOD, **changes}
    return {k: v for k, v in out.items() if v is not ...}


BAD_EVENTS = [
    ({"events": []}, "events"),
    ({}, "events"),
    ({"events": "nope"}, "events"),
    ({"events": [ev(type="teleport")]}, "type"),
    ({"events": [ev(type=...)]}, "type"),
    ({"events": [ev(user_id=..., session_id=...)]}, "user_id or session_id"),
    ({"events": [ev(item_id=...)]}, "item_id"),
    ({"events": [ev(item_id=12)]}, "item_id"),
    ({"events": [ev(timestamp="yesterday")]}, "timestamp"),
    ({"events": [ev(timestamp=-5)]}, "timestamp"),
    ({"events": [ev(timestamp=1e30)]}, "timestamp"),
    ({"events": [ev(rating=9)]}, "rating"),
    ({"events": [ev(rating="great")]}, "rating"),
    ({"events": [ev(user_id="x" * 300)]}, "user_id"),
    ({"events": [ev(surprise=1)]}, "surprise"),
    ({"events": [ev(type="search", item_id=..., query=...)]}, "query"),
    ({"events": [GOOD] * 10_000}, "events"),
    ({"events": [GOOD, ev(type="nope")]}, "events.1.type"),
    ({"events": [None]}, "events.0"),
    ([GOOD], "body"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_EVENTS)
def test_bad_events(client: TestClient, body: object, needle: str) -> None:
    before = client.app.state.engine.events.count()  # type: ignore[attr-defined]
    r = client.post("/v1/events", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"] or any(
        needle in e["field"] or needle in e["message"] for e in r.json()["errors"]
    ), r.text
    # a bad batch is refused whole: nothing of it is stored
    assert client.app.state.engine.events.count() == before  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "raw",
    [
        b"{broken",
        b"",
        b"\xff\xfe\x00garbage",
        '{"events": [{"user_id": "\ud800"}]}'.encode("utf-8", "surrogatepass"),
        b"null",
        b"[1,2",
        b'{"events": [{"user_id": "u", "ite',
    ],
)
def test_broken_json_and_unicode(client: TestClient, raw: bytes) -> None:
    r = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]


def test_unicode_ids_are_fine(client: TestClient) -> None:
    r = client.post("/v1/events", json={"events": [ev(user_id="Zoë 🛍️", item_id="商品-1")]})
    assert r.status_code == 200
    r = client.get("/v1/users/Zoë 🛍️/profile")
    assert r.status_code == 200 and r.json()["recent"][0]["item_id"] == "商品-1"


BAD_ITEMS = [
    ({"items": [{"item_id": "a", "price": -3}]}, "price"),
    ({"items": [{"item_id": "a", "price": "cheap"}]}, "price"),
    ({"items": [{"item_id": ""}]}, "item_id"),
    ({"items": [{"title": "no id"}]}, "item_id"),
    ({"items": [{"item_id": "a", "in_stock": "maybe"}]}, "in_stock"),
    ({"items": [{"item_id": "a", "category": [1, 2]}]}, "category"),
    ({"items": []}, "items"),
    ({"items": [{"item_id": "a"}] * 1001}, "items"),
    ({"items": [{"item_id": "a", "colour": "red"}]}, "colour"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_ITEMS)
def test_bad_items(client: TestClient, body: object, needle: str) -> None:
    r = client.put("/v1/items", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.text


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("/v1/users/u/recommendations?n=100000", "n"),
        ("/v1/users/u/recommendations?n=0", "n"),
        ("/v1/users/u/recommendations?n=ten", "n"),
        ("/v1/users/u/recommendations?min_price=-1", "min_price"),
        ("/v1/users/u/recommendations?max_price=abc", "max_price"),
        ("/v1/items/x/similar?n=-2", "n"),
        ("/v1/search?q=", "q"),
        ("/v1/search", "q"),
        ("/v1/search?q=serum&n=5000", "n"),
        ("/v1/users/u/profile?top=0", "top"),
    ],
)
def test_bad_queries(client: TestClient, url: str, needle: str) -> None:
    r = client.get(url)
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]


def test_wrong_method_and_route(client: TestClient) -> None:
    assert client.get("/v1/events").status_code == 405
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.post("/v1/feedback", json={"user_id": "u"}).status_code == 422


def test_empty_price_band_is_an_empty_list_not_an_error(client: TestClient) -> None:
    r = client.get("/v1/users/u/recommendations", params={"min_price": 1e8, "max_price": 1e9})
    assert r.status_code == 200 and r.json()["items"] == []
