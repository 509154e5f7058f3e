"""Business rules: each kind (pin, boost, bury, block) by item, category, brand and attribute
changes the feed as it says, "Featured" leads a pinned or boosted item's reasons, windows open
and close, bad rules are 422s naming the field, the rule set is durable and shared by the
processes on one store, the dashboard lists it, and a real server applies a rule at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from shoprec.data.records import Item
from shoprec.online.tags import tags_for_catalog
from shoprec.ranking.catalog import Catalog
from shoprec.ranking.rules import FEATURED, Rule, RuleBook, matches, place_pins
from shoprec.store import MemoryStateStore
from shoprec.store.sqlite_state import SQLiteStateStore


@pytest.fixture
def rules(client) -> Iterator[list[str]]:
    """Rule ids a test creates; deleted afterwards (the engine is the session's)."""
    made: list[str] = []
    yield made
    for rid in made:
        client.delete(f"/v1/rules/{rid}")


def _add(client, made: list[str], body: dict) -> dict:
    r = client.post("/v1/rules", json=body)
    assert r.status_code == 201, r.text
    made.append(r.json()["rule_id"])
    return r.json()


def _feed(client, user: str, n: int = 10) -> list[dict]:
    r = client.get(f"/v1/users/{user}/recommendations", params={"n": n})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _shopper(built) -> str:
    return next(u for u in built.engine.states.users() if not u.startswith("session:"))


def test_each_rule_kind_changes_the_feed(client, built, rules) -> None:
    user = _shopper(built)
    base = [x["item_id"] for x in _feed(client, user, 50)]
    top, low = base[0], base[30]
    cat = built.engine.catalog
    # block an item, then its brand: gone from the ranked list and from the fill
    blocked = _add(client, rules, {"action": "block", "target": {"type": "item", "value": top}})
    assert top not in [x["item_id"] for x in _feed(client, user, 100)]
    client.delete(f"/v1/rules/{blocked['rule_id']}")
    brand = cat.items[cat.get(top)].brand
    _add(client, rules, {"action": "block", "target": {"type": "brand", "value": brand.upper()}})
    shown = [cat.items[cat.get(x["item_id"])] for x in _feed(client, user, 30)]
    assert shown and all(it.brand != brand for it in shown)
    client.delete(f"/v1/rules/{rules.pop()}")
    # bury the top item; boost one far down: it rises into the top ten, "Featured" first
    _add(client, rules, {"action": "bury", "target": {"type": "item", "value": top}, "strength": 5})
    _add(
        client, rules, {"action": "boost", "target": {"type": "item", "value": low}, "strength": 5}
    )
    feed = _feed(client, user)
    ids = [x["item_id"] for x in feed]
    assert top not in ids and low in ids
    assert feed[ids.index(low)]["reasons"][0] == FEATURED
    # pin an item at the second place
    pinned = base[40]
    _add(
        client,
        rules,
        {"action": "pin", "target": {"type": "item", "value": pinned}, "position": 2},
    )
    feed = _feed(client, user)
    assert feed[1]["item_id"] == pinned and feed[1]["reasons"][0] == FEATURED


def test_category_block_and_pin_respect_filters(client, built, rules) -> None:
    user = _shopper(built)
    cat = built.engine.catalog
    first = _feed(client, user)[0]["item_id"]
    name = cat.category_of(cat.get(first))
    _add(client, rules, {"action": "block", "target": {"type": "category", "value": name}})
    mask = cat.in_category(name, len(cat) + 1)
    assert not any(mask[cat.get(x["item_id"])] for x in _feed(client, user, 40))
    # a pinned item the shopper bought stays out (the filters rule it out)
    st = built.engine.state(user)
    if st is not None and st.bought:
        bought = sorted(st.bought)[0]
        _add(
            client,
            rules,
            {"action": "pin", "target": {"type": "item", "value": bought}, "position": 1},
        )
        assert bought not in [x["item_id"] for x in _feed(client, user)]


def test_time_windows_open_and_close(built) -> None:
    now = [1_000_000.0]
    book = RuleBook(MemoryStateStore[dict](), clock=lambda: now[0], refresh_s=0)
    cat = built.engine.catalog
    item = cat.ids[1]
    rule = Rule("", "block", "item", item, start=now[0] + 60, end=now[0] + 120)
    book.create(rule, cat)
    assert book.applied(cat, len(cat) + 1) is None  # not yet
    now[0] += 90
    applied = book.applied(cat, len(cat) + 1)
    assert applied is not None and applied.blocked is not None and applied.blocked[1]
    now[0] += 60
    assert book.applied(cat, len(cat) + 1) is None  # over


def test_invalid_rules_are_422_naming_the_field(client, built) -> None:
    item = built.engine.catalog.ids[1]
    cases = [
        (
            {"action": "pin", "target": {"type": "brand", "value": "x"}, "position": 1},
            "target.type",
        ),
        ({"action": "pin", "target": {"type": "item", "value": item}}, "position"),
        ({"action": "block", "target": {"type": "item", "value": item}, "position": 2}, "position"),
        ({"action": "block", "target": {"type": "item", "value": item}, "strength": 1}, "strength"),
        ({"action": "block", "target": {"type": "item", "value": "no-such-item"}}, "target.value"),
        ({"action": "boost", "target": {"type": "attribute", "value": "red"}}, "target.name"),
        ({"action": "shout", "target": {"type": "item", "value": item}}, "action"),
        ({"action": "bury", "target": {"type": "item", "value": item}, "strength": 0}, "strength"),
        (
            {
                "action": "block",
                "target": {"type": "item", "value": item},
                "start": 200,
                "end": 100,
            },
            "end",
        ),
        ({"action": "block", "target": {"type": "item", "value": item}, "end": 100}, "end"),
    ]
    for body, field in cases:
        r = client.post("/v1/rules", json=body)
        assert r.status_code == 422 and r.json()["error"].startswith(field), (body, r.text)
    assert client.delete("/v1/rules/nope").status_code == 404


def test_rules_are_durable_and_shared(tmp_path: Path, built) -> None:
    cat = built.engine.catalog
    path = tmp_path / "rules.db"
    one = RuleBook(SQLiteStateStore[dict](path, dict, dict, "rules"), refresh_s=0)
    other = RuleBook(SQLiteStateStore[dict](path, dict, dict, "rules"), refresh_s=0)
    made = one.create(Rule("", "boost", "item", cat.ids[2], strength=1.0), cat)
    assert other.applied(cat, len(cat) + 1) is not None  # another worker on the store
    again = RuleBook(SQLiteStateStore[dict](path, dict, dict, "rules"))  # after a restart
    assert [r.rule_id for r in again.list()] == [made.rule_id]
    assert other.delete(made.rule_id) and one.applied(cat, len(cat) + 1) is None


def test_attribute_and_brand_matching_and_pin_placement() -> None:
    items = [
        Item("a", "A", brand="Acme", attributes={"colour": "Red"}),
        Item("b", "B", brand="acme", attributes={"colour": "blue"}),
        Item("c", "C", brand="Other"),
    ]
    vectors = np.eye(3, 384, dtype=np.float32)
    cat = Catalog()
    cat.upsert(items, vectors, tags_for_catalog(items, vectors, None), [0.0] * 3)
    attr = Rule("r", "boost", "attribute", "RED", attribute="colour")
    assert matches(attr, cat, 4).tolist() == [False, True, False, False]
    assert matches(Rule("r", "block", "brand", "ACME"), cat, 4).tolist() == [
        False,
        True,
        True,
        False,
    ]
    every = lambda ids: np.ones(len(ids), bool)  # noqa: E731
    assert place_pins([5, 6, 7, 8], ((7, 0), (9, 2)), every, 4) == [7, 5, 9, 6]
    assert place_pins([5, 6], ((9, 5),), every, 3) == [5, 6, 9]  # past the end: last
    assert place_pins([5, 6], ((9, 0),), lambda ids: ids != 9, 3) == [5, 6]  # filtered out


def test_dashboard_lists_the_rules(client, built, rules) -> None:
    item = built.engine.catalog.ids[3]
    _add(
        client,
        rules,
        {"action": "block", "target": {"type": "item", "value": item}, "note": "recall 24-D"},
    )
    page = client.get("/dashboard")
    assert page.status_code == 200 and "Business rules" in page.text
    assert "recall 24-D" in page.text and item in page.text


def test_a_rule_applies_on_a_real_server(live_server: str, built) -> None:
    user = _shopper(built)
    with httpx.Client(base_url=live_server, timeout=30) as c:
        top = c.get(f"/v1/users/{user}/recommendations", params={"n": 5}).json()["items"][0]
        body = {"action": "block", "target": {"type": "item", "value": top["item_id"]}}
        made = c.post("/v1/rules", json=body)
        assert made.status_code == 201, made.text
        try:
            assert made.json()["rule_id"] in [
                r["rule_id"] for r in c.get("/v1/rules").json()["rules"]
            ]
            feed = c.get(f"/v1/users/{user}/recommendations", params={"n": 20}).json()["items"]
            assert top["item_id"] not in [x["item_id"] for x in feed]
        finally:
            assert c.delete(f"/v1/rules/{made.json()['rule_id']}").status_code == 200
        feed = c.get(f"/v1/users/{user}/recommendations", params={"n": 5}).json()["items"]
        assert top["item_id"] in [x["item_id"] for x in feed]  # deleted: back at once
