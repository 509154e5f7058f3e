"""Shop-defined event types (``SHOPREC_EVENT_TYPES``): accepted by the API, weighted, and
treated by role everywhere types are switched on (the shopper's state and the bought filter,
trending, experiments' purchases, the training export, the stored log); unknown types refused
with a 422 listing the known ones; the built-ins unchanged when none are declared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from shoprec.data import event_types
from shoprec.data.records import EVENT_WEIGHTS, Event, EventType, Item
from shoprec.experiments.records import Experiment
from shoprec.experiments.registry import ExperimentRegistry
from shoprec.ranking.strategy import Strategy
from shoprec.settings import Settings
from shoprec.store import MemoryStateStore, open_embedded
from shoprec.training.export import ExportConfig, export_sequences

SHOP_TYPES = {
    "wishlist": {"weight": 2.0, "role": "positive"},
    "order": {"weight": 6.0, "role": "purchase"},
    "dislike": {"weight": 1.5, "role": "negative"},
    "login": {"weight": 0.0, "role": "neutral"},
}


@pytest.fixture
def declared(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shop's types declared the way a server reads them: SHOPREC_EVENT_TYPES as JSON."""
    monkeypatch.setenv("SHOPREC_EVENT_TYPES", json.dumps(SHOP_TYPES))
    declared = Settings().event_types
    event_types.configure({name: (t.weight, t.role) for name, t in declared.items()})
    yield
    event_types.configure(None)


def test_built_ins_unchanged_when_none_are_declared() -> None:
    assert event_types.declared() == {}
    for t in EventType:
        assert event_types.weight(t) == EVENT_WEIGHTS[t] == event_types.weight(t.value)
        assert event_types.parse(t.value) is t and event_types.stored(t.value) is t
    # the item events the state, export and trending always took (before roles)
    signals = {t for t in EventType if event_types.is_item_signal(t)}
    want = {EventType.VIEW, EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE}
    assert signals == want | {EventType.REVIEW}
    assert [t for t in EventType if event_types.is_purchase(t)] == [EventType.PURCHASE]


def test_unknown_type_is_refused_listing_the_known_ones(client) -> None:
    body = {"events": [{"user_id": "et-unknown", "item_id": "x", "type": "wishlist"}]}
    r = client.post("/v1/events", json=body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error.startswith("events.0.type:") and "'wishlist'" in error
    assert "add_to_cart, click, impression, purchase, review, search, view" in error


def test_declared_types_are_accepted_weighted_and_folded_by_role(client, built, declared) -> None:
    engine = built.engine
    a, b, c = (engine.catalog.ids[k] for k in (1, 2, 3))
    user, ts = "et-shopper", engine.clock
    events = [
        {"user_id": user, "item_id": a, "type": "wishlist", "timestamp": ts},
        {"user_id": user, "item_id": b, "type": "order", "timestamp": ts},
        {"user_id": user, "item_id": c, "type": "dislike", "timestamp": ts},
    ]
    r = client.post("/v1/events", json={"events": events})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text

    profile = client.get(f"/v1/users/{user}/profile").json()
    assert [(x["item_id"], x["type"]) for x in profile["recent"]] == [(b, "order"), (a, "wishlist")]
    assert profile["bought"] == [b] and profile["n_events"] == 3
    feed = client.get(f"/v1/users/{user}/recommendations", params={"n": 50}).json()
    assert b not in {x["item_id"] for x in feed["items"]}  # a purchase role: never again

    want: dict[str, float] = {}  # the declared weights, the negative one subtracted
    for item, w in ((a, 2.0), (b, 6.0), (c, -1.5)):
        for label in engine.catalog.labels[engine.catalog.get(item)]:
            want[label] = want.get(label, 0.0) + w
    state = engine.state(user)
    assert {k: v for k, (v, _) in state.tags.items()} == pytest.approx(want)

    assert [event_types.trending_weight(t) for t in ("wishlist", "order", "dislike")] == [
        2.0,
        6.0,
        0.0,
    ]


def test_a_declared_neutral_login_needs_no_item_and_merges_the_session(client, declared) -> None:
    sid, user = "et-anon-session", "et-signed-in"
    view = {"session_id": sid, "item_id": "P00003", "type": "view"}
    login = {"user_id": user, "session_id": sid, "type": "login"}
    assert client.post("/v1/events", json={"events": [view, login]}).status_code == 200
    profile = client.get(f"/v1/users/{user}/profile").json()
    assert [x["item_id"] for x in profile["recent"]] == ["P00003"] and profile["n_events"] == 2
    wish = {"user_id": user, "type": "wishlist"}  # a positive type needs its item
    r = client.post("/v1/events", json={"events": [wish]})
    assert r.status_code == 422 and "item_id is required" in r.json()["error"]


def test_declared_purchases_are_credited_by_experiments(declared) -> None:
    reg = ExperimentRegistry(MemoryStateStore[dict]())
    worse = Strategy(name="worse", n_seq=0, use_ranker=False)
    reg.create(Experiment("t1", [("control", Strategy()), ("worse", worse)], [0.5, 0.5]))
    variant = reg.serve("et-buyer").variant
    reg.on_feedback("et-buyer", impressions=10, clicks=0)  # a shopper counts from their feedback
    reg.on_events(
        [Event("et-buyer", "x", "order", 1.0), Event("et-buyer", "y", "wishlist", 2.0)],
        lambda _: 7.0,
    )
    row = next(v for v in reg.report("t1")["variants"] if v["name"] == variant)
    assert row["purchases"] == 1 and row["revenue"] == pytest.approx(7.0)


def test_declared_types_reach_the_training_export_and_replay(tmp_path: Path, declared) -> None:
    events, items = open_embedded(tmp_path)
    items.upsert([Item(f"i{k}", f"item {k}") for k in range(4)], 0.0)
    kinds = ["view", "wishlist", "dislike", "order"]
    events.append(
        [Event("u1", f"i{k}", event_types.parse(t), float(k)) for k, t in enumerate(kinds)]
    )
    data = export_sequences(events, items, config=ExportConfig(min_length=1))
    (seq,) = data.sequences
    assert [data.items.external(int(i)) for i in seq] == ["i0", "i1", "i3"]  # not the dislike

    event_types.configure(None)  # the shop stops declaring them: the log still replays
    replayed = [e.type for _, e in events.replay()]
    assert replayed == kinds and event_types.role("wishlist") == "neutral"
    events.close()
    items.close()


def test_declarations_are_checked() -> None:
    with pytest.raises(ValidationError):
        Settings(event_types={"wishlist": {"weight": 1, "role": "maybe"}})
    with pytest.raises(ValidationError):
        Settings(event_types={"Wish List": {"weight": 1}})
    with pytest.raises(ValidationError):
        Settings(event_types={"wishlist": {"weight": -1}})
    with pytest.raises(ValueError, match="built in"):
        event_types.configure({"view": (2.0, "positive")})
    assert event_types.declared() == {}
