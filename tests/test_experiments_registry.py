"""The experiment registry on real stores (SQLite file, Redis db 15): sticky assignment that
survives a restart, exact attribution, bandit shares, stopping, erasure."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from threading import Thread

import pytest
import redis

from shoprec.data.records import Event, EventType
from shoprec.experiments.exploration import keyed
from shoprec.experiments.records import Experiment, ExperimentError
from shoprec.experiments.registry import ExperimentRegistry
from shoprec.ranking.strategy import Strategy
from shoprec.store.redis_state import RedisStateStore
from shoprec.store.sqlite_state import SQLiteStateStore

REDIS_URL = os.environ.get("SHOPREC_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _sqlite(d: Path) -> SQLiteStateStore[dict]:
    return SQLiteStateStore[dict](d / "shoprec.db", dict, dict, table="experiments")


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A function opening (and, called again, reopening) the same durable store."""
    if request.param == "sqlite":
        yield lambda: _sqlite(tmp_path)
        return
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # a missing Redis is a failure, as in test_store.py
    prefix = f"test:exp:{tmp_path.name}:"
    yield lambda: RedisStateStore[dict](client, dict, dict, prefix=prefix, ttl_s=None)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def experiment(name: str = "e1", mode: str = "fixed", traffic=(0.5, 0.5)) -> Experiment:
    worse = Strategy(name="worse", n_seq=0, use_ranker=False)
    return Experiment(
        name, [("control", Strategy()), ("worse", worse)], list(traffic), mode=mode, floor=0.05
    )


def test_assignment_is_sticky_across_requests_and_restarts(open_store) -> None:
    reg = ExperimentRegistry(open_store())
    reg.create(experiment())
    first = {f"u{i}": reg.serve(f"u{i}").variant for i in range(200)}
    assert set(first.values()) == {"control", "worse"}
    for u in first:  # exposed: the shop reports what it showed
        reg.on_feedback(u, 1, 0)
    for _ in range(3):
        assert {u: reg.serve(u).variant for u in first} == first
    again = ExperimentRegistry(open_store())
    again.load()  # a restarted process
    assert {u: again.serve(u).variant for u in first} == first
    rows = again.report("e1")["variants"]
    assert sum(r["users"] for r in rows) == 200 and sum(r["lists"] for r in rows) == 200 * 5


def test_bandit_assignment_stays_sticky_while_shares_move(open_store) -> None:
    reg = ExperimentRegistry(open_store())
    exp = reg.create(experiment("b1", mode="bandit"))
    seen: dict[str, str] = {}
    for i in range(400):
        user = f"u{i}"
        seen[user] = reg.serve(user).variant
        reg.on_feedback(user, 1, 0)  # exposed: from now on the record keeps the variant
        if seen[user] == "control":  # control converts, the other never does
            reg.on_events([Event(user, "x", EventType.PURCHASE, 1.0)], lambda _: 2.0)
    assert exp.shares[0] == pytest.approx(0.95, abs=1e-6)
    assert {u: reg.serve(u).variant for u in seen} == seen


def test_attribution_counts_every_event_exactly(open_store) -> None:
    reg = ExperimentRegistry(open_store())
    reg.create(experiment())
    users = [f"u{i}" for i in range(40)]
    variant = {u: reg.serve(u).variant for u in users}
    want: dict[str, Counter] = {"control": Counter(), "worse": Counter()}
    price = {"a": 3.5, "b": 0.0, "c": 10.0}
    kinds = [EventType.VIEW, EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE]
    for i, u in enumerate(users):
        reg.on_feedback(u, impressions=10 + i % 3, clicks=i % 4)
        want[variant[u]].update({"impressions": 10 + i % 3, "clicks": i % 4})
        events = [Event(u, "abc"[j % 3], kinds[(i + j) % 4], float(j)) for j in range(i % 7)]
        reg.on_events(events, price.__getitem__)
        for e in events:
            if e.type is EventType.CLICK:
                want[variant[u]]["click_events"] += 1
            elif e.type is EventType.ADD_TO_CART:
                want[variant[u]]["add_to_carts"] += 1
            elif e.type is EventType.PURCHASE:
                want[variant[u]]["purchases"] += 1
                want[variant[u]]["revenue"] += price[e.item_id]
        bought = any(e.type is EventType.PURCHASE for e in events)
        want[variant[u]]["converted"] += bought
    # never exposed (no feedback): not attributed anywhere
    reg.on_events([Event("stranger", "a", EventType.PURCHASE, 1.0)], price.__getitem__)
    for rep in (reg, ExperimentRegistry(open_store())):
        if rep is not reg:
            rep.load()
        for row in rep.report("e1")["variants"]:
            w = want[row["name"]]
            for key in ("impressions", "clicks", "click_events", "add_to_carts", "purchases"):
                assert row[key] == w[key], (row["name"], key)
            assert row["converted"] == w["converted"]
            assert row["revenue"] == pytest.approx(w["revenue"])
            assert row["users"] == sum(v == row["name"] for v in variant.values())


def test_stop_promotes_a_clear_winner_else_rolls_back(open_store) -> None:
    reg = ExperimentRegistry(open_store())
    reg.create(experiment("s1"))
    with pytest.raises(ExperimentError, match="running"):
        reg.create(experiment("s2"))
    for i in range(300):
        a = reg.serve(f"u{i}")
        reg.on_feedback(f"u{i}", 1, 0)
        if a.variant == "worse" or i % 10 == 0:  # "worse" converts 100%, control 10%
            reg.on_events([Event(f"u{i}", "x", EventType.PURCHASE, 1.0)], lambda _: 1.0)
    out = reg.stop("s1")
    assert out["action"] == "promote" and out["variant"] == "worse"
    assert reg.running is None and reg.serve("u1") is None
    assert reg.promoted == Strategy(name="worse", n_seq=0, use_ranker=False)
    reg.create(experiment("s3"))
    for i in range(50):
        reg.serve(f"u{i}")
    assert reg.stop("s3")["action"] == "rollback"  # no evidence either way
    reloaded = ExperimentRegistry(open_store())
    reloaded.load()
    assert reloaded.promoted == reg.promoted and reloaded.running is None
    assert reloaded.get("s1").outcome["variant"] == "worse"


def test_forget_erases_a_shopper_and_their_counts(open_store) -> None:
    reg = ExperimentRegistry(open_store())
    reg.create(experiment())
    for u in ("a", "b"):
        reg.serve(u)
        reg.on_feedback(u, 1, 0)
        reg.on_events([Event(u, "x", EventType.PURCHASE, 1.0)], lambda _: 4.0)
    reg.forget("a")
    rows = reg.report("e1")["variants"]
    assert sum(r["users"] for r in rows) == 1 and sum(r["revenue"] for r in rows) == 4.0
    reloaded = ExperimentRegistry(open_store())
    reloaded.load()
    assert sum(r["users"] for r in reloaded.report("e1")["variants"]) == 1


def test_two_processes_share_experiments_assignment_and_counts(open_store) -> None:
    """Two registries on one store, as two workers or replicas hold them: an experiment
    started through one is served by the other, a shopper keeps one variant whichever
    serves them, every count lands once, and a stop through either reaches both."""
    a, b = ExperimentRegistry(open_store(), refresh_s=0), ExperimentRegistry(open_store())
    a.load()
    b.load()
    promoted: list[Strategy | None] = []
    a.on_change = lambda: promoted.append(a.promoted)
    b.create(experiment("m1"))
    assert a.running is not None and a.running.name == "m1"  # refresh_s=0: at once
    users = [f"u{i}" for i in range(60)]
    variant = {u: (a if i % 2 else b).serve(u).variant for i, u in enumerate(users)}
    for i, u in enumerate(users):
        (b if i % 2 else a).on_feedback(u, 1, 0)
    lists = Counter({u: 1 for u in users})

    def serve(reg: ExperimentRegistry, rounds: int) -> None:
        for _ in range(rounds):
            for u in users:
                assert reg.serve(u).variant == variant[u]

    threads = [Thread(target=serve, args=(reg, 3)) for reg in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lists.update({u: 12 for u in users})
    for i, u in enumerate(users):  # each event through the process that did not serve it
        (b if i % 2 else a).on_events([Event(u, "x", EventType.PURCHASE, 1.0)], lambda _: 2.0)
    b.refresh()
    for reg in (a, b):
        rows = {r["name"]: r for r in reg.report("m1")["variants"]}
        for name in ("control", "worse"):
            mine = [u for u in users if variant[u] == name]
            assert rows[name]["users"] == len(mine)
            assert rows[name]["lists"] == sum(lists[u] for u in mine)
            assert rows[name]["purchases"] == rows[name]["converted"] == len(mine)
            assert rows[name]["revenue"] == pytest.approx(2.0 * len(mine))
    out = b.stop("m1", "promote", "worse")
    assert a.running is None and a.get("m1").status == "stopped"
    assert promoted[-1] == a.promoted == Strategy(name="worse", n_seq=0, use_ranker=False)
    with pytest.raises(ExperimentError, match="already stopped"):
        a.stop("m1")
    assert out["variant"] == "worse"
    b.forget(users[0])  # erased through one process, gone from the other's totals too
    assert sum(r["users"] for r in a.report("m1")["variants"]) == len(users) - 1


def test_exploration_feedback_through_another_process_is_credited(open_store) -> None:
    a = ExperimentRegistry(open_store(), refresh_s=0)
    b = ExperimentRegistry(open_store(), refresh_s=0)
    plain = Strategy(name="plain", rerank=False)
    a.create(Experiment("x1", [("base", Strategy()), ("plain", plain)], [0.5, 0.5], "explore"))
    assert b.serve("u1").explore
    rid = b.log_exploration("u1", [["i1", "i2"], ["i3", "i4"]], 1, [0.1, 0.2])
    assert rid is not None
    a.on_feedback("u1", 2, 1, rid)
    a.on_feedback("someone", 2, 1, rid)  # not their list: not credited
    a.on_events([Event("u1", "i4", EventType.PURCHASE, 1.0)], lambda _: 1.0)
    a.on_events([Event("u1", "i1", EventType.PURCHASE, 1.0)], lambda _: 1.0)  # not served
    [rec] = a.exploration_log("x1")[1]
    assert (rec.clicks, rec.purchases, rec.served) == (1, 1, 1)
    b.forget("u1")
    assert a.exploration_log("x1")[1] == []


def _keys(store) -> set[str]:  # noqa: ANN001
    return set(store.users())


def test_serving_never_seen_ids_writes_no_record_of_them(open_store) -> None:
    """Issue 23, Why 6: a list served is no exposure record; the variant is a pure hash."""
    store = open_store()
    reg = ExperimentRegistry(store)
    reg.create(experiment())
    reg.serve("warm-up")  # this process's totals record, written once
    before = _keys(store)
    variants = {f"flood-{i}": reg.serve(f"flood-{i}").variant for i in range(300)}
    assert _keys(store) == before
    again = ExperimentRegistry(open_store())
    again.load()
    assert {u: again.serve(u).variant for u in variants} == variants  # sticky by hash alone
    assert sum(r["lists"] for r in reg.report("e1")["variants"]) == 301 + 300


def test_exploration_log_is_bounded_and_erased_whole(open_store) -> None:
    """Why 6: an explore experiment logs its first ``log_limit`` requests, no more. Why 7: an
    erasure removes every logged request naming the shopper, not only the latest 200."""
    store = open_store()
    reg = ExperimentRegistry(store, refresh_s=0)
    grid = [("base", Strategy()), ("plain", Strategy(name="plain", rerank=False))]
    reg.create(Experiment("x2", grid, [0.5, 0.5], "explore", log_limit=250))
    rids = [reg.log_exploration("loud", [["i1"], ["i2"]], 0, [0.0, 0.0]) for _ in range(240)]
    rids += [reg.log_exploration(f"other-{i}", [["i1"], ["i2"]], 1, [0.0, 0.0]) for i in range(20)]
    assert all(rids[:250]) and rids[250:] == [None] * 10
    assert len(reg.exploration_log("x2")[1]) == 250
    assert not reg.serve("someone").explore  # full: no other lists computed for nothing
    held = reg.held("loud")["exploration"]
    assert len(held) == 240 and {h["request_id"] for h in held} == set(rids[:240])
    reg.forget("loud")
    left = [b["user"] for _, b in keyed(store, "log:x2:")]
    assert len(left) == 10 and "loud" not in left
    assert not any("loud" in k for k in _keys(store))
