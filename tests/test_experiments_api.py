"""``/v1/experiments`` end to end through the app on a real engine (synthetic shop, its own
embedded store): variants named in responses, exact attribution of feedback and events sent
through the public API, stopping with promotion, a restart, and 4xx for bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoprec.data.keys import is_session_key
from shoprec.serving.app import create_app
from shoprec.serving.build import Built, attach_experiments


@pytest.fixture(scope="module")
def own(serving_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Built, Path]:
    """An engine of its own (experiments change what it serves), models shared."""
    from serving_fixtures import synthetic_engine

    store = tmp_path_factory.mktemp("exp-store")
    return synthetic_engine(serving_root, store), store


@pytest.fixture(scope="module")
def api(own: tuple[Built, Path]) -> TestClient:
    return TestClient(create_app(own[0].engine))


BODY = {
    "name": "ab1",
    "variants": [
        {"name": "control", "strategy": {}},
        {"name": "flat", "strategy": {"use_ranker": False, "rerank": False, "n_seq": 0}},
    ],
    "traffic": [0.5, 0.5],
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "traffic": [0.5, 0.6]}, "traffic"),
        ({**BODY, "traffic": [1.0]}, "traffic"),
        ({**BODY, "variants": BODY["variants"][:1]}, "variants"),
        ({**BODY, "variants": [BODY["variants"][0]] * 2}, "variants"),
        ({**BODY, "name": "bad name!"}, "name"),
        ({**BODY, "mode": "greedy"}, "mode"),
        ({**BODY, "control": "nope"}, "control"),
        (
            {**BODY, "variants": [{"name": "a", "strategy": {"mmr_lambda": 2}}, {"name": "b"}]},
            "variants.0.strategy.mmr_lambda",
        ),
        (
            {**BODY, "variants": [{"name": "a", "strategy": {"warp": 1}}, {"name": "b"}]},
            "variants.0.strategy.warp",
        ),
    ],
)
def test_bad_experiments_are_422_naming_the_field(api: TestClient, body: dict, field: str) -> None:
    r = api.post("/v1/experiments", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


def test_unknown_experiment_is_404(api: TestClient) -> None:
    assert api.get("/v1/experiments/none-such").status_code == 404
    assert api.post("/v1/experiments/none-such/stop", json={}).status_code == 404


def test_experiment_serves_attributes_and_stops(api: TestClient, own: tuple[Built, Path]) -> None:
    built, store = own
    engine = built.engine
    users = [u for u in engine.states.users() if not is_session_key(u)][:40]
    plain = api.get(f"/v1/users/{users[0]}/recommendations", params={"n": 5}).json()
    assert plain["experiment"] is None and plain["variant"] is None
    r = api.post("/v1/experiments", json=BODY)
    assert r.status_code == 201, r.text
    assert api.post("/v1/experiments", json={**BODY, "name": "ab2"}).status_code == 409
    want: dict[str, Counter] = {"control": Counter(), "flat": Counter()}
    variant: dict[str, str] = {}
    for i, u in enumerate(users):
        for _ in range(2):  # the same variant on every request
            res = api.get(f"/v1/users/{u}/recommendations", params={"n": 6}).json()
            assert res["experiment"] == "ab1"
            assert variant.setdefault(u, res["variant"]) == res["variant"]
            assert res["strategy"] == res["variant"]
        items = [it["item_id"] for it in res["items"]]
        v = want[variant[u]]
        clicks = items[: i % 3]
        fb = {"user_id": u, "impressions": items, "clicks": clicks}
        assert api.post("/v1/feedback", json=fb).status_code == 200
        v.update({"impressions": len(items), "clicks": len(clicks), "lists": 2})
        events = [
            {"user_id": u, "item_id": items[0], "type": "view", "event_id": f"{u}-v"},
            {"user_id": u, "item_id": items[0], "type": "add_to_cart", "event_id": f"{u}-c"},
        ]
        v["add_to_carts"] += 1
        if i % 2:
            events.append(
                {"user_id": u, "item_id": items[1], "type": "purchase", "event_id": f"{u}-p"}
            )
            v.update({"purchases": 1, "converted": 1})
            v["revenue"] += engine.catalog.price_of(items[1])
        for _ in range(2):  # a repeated event_id is not attributed twice
            assert api.post("/v1/events", json={"events": events}).status_code == 200
    # a shopper the experiment never served buys: attributed nowhere
    stray = {"user_id": "stray", "item_id": items[0], "type": "purchase"}
    api.post("/v1/events", json={"events": [stray]})
    report = api.get("/v1/experiments/ab1").json()
    for row in report["variants"]:
        w = want[row["name"]]
        assert row["users"] == sum(x == row["name"] for x in variant.values())
        for key in ("lists", "impressions", "clicks", "add_to_carts", "purchases", "converted"):
            assert row[key] == w[key], (row["name"], key)
        assert row["revenue"] == pytest.approx(w["revenue"])
        assert row["ctr"]["low"] <= row["ctr"]["value"] <= row["ctr"]["high"]
    flat = next(r for r in report["variants"] if r["name"] == "flat")
    assert set(flat["lift"]) == {"ctr", "conversion", "revenue_per_user"}
    out = api.post("/v1/experiments/ab1/stop", json={"action": "promote", "variant": "flat"})
    assert out.status_code == 200 and out.json()["strategy"]["use_ranker"] is False
    assert engine.pipeline.strategy.name == "flat"
    after = api.get(f"/v1/users/{users[0]}/recommendations").json()
    assert after["experiment"] is None and after["strategy"] == "flat"
    # a restart reloads the experiment, its counts and the promoted strategy
    engine.pipeline.strategy = engine.pipeline.strategy.__class__()
    attach_experiments(engine, store)
    assert engine.pipeline.strategy.name == "flat"
    again = api.get("/v1/experiments/ab1").json()
    assert again["variants"] == report["variants"] and again["status"] == "stopped"
    assert api.post("/v1/experiments/ab1/stop").status_code == 409  # no body: auto
    bad = api.post("/v1/experiments/ab1/stop", json={"action": "explode"})
    assert bad.status_code == 422 and "action" in bad.json()["error"]


def test_explore_experiment_logs_every_variant_for_tuning(
    api: TestClient, own: tuple[Built, Path]
) -> None:
    from typer.testing import CliRunner

    from shoprec.cli import app as cli

    built, store = own
    engine = built.engine
    grid = [
        {"name": "base"},
        {"name": "diverse", "strategy": {"mmr_lambda": 0.5}},
        {"name": "plain", "strategy": {"rerank": False}},
    ]
    r = api.post("/v1/experiments", json={"name": "ex1", "variants": grid, "mode": "explore"})
    assert r.status_code == 201, r.text
    users = [u for u in engine.states.users() if not is_session_key(u)][40:70]
    clicks, served = {}, {}
    for i, u in enumerate(users):
        res = api.get(f"/v1/users/{u}/recommendations", params={"n": 5}).json()
        rid, items = res["request_id"], [it["item_id"] for it in res["items"]]
        assert rid and res["experiment"] == "ex1"
        served[rid] = (u, res["variant"], items)
        clicks[rid] = i % 3
        fb = {"user_id": u, "impressions": items, "clicks": items[: i % 3], "request_id": rid}
        assert api.post("/v1/feedback", json=fb).status_code == 200
        # another shopper naming this request id is not credited
        fb_other = {"user_id": "someone", "impressions": items, "clicks": items, "request_id": rid}
        api.post("/v1/feedback", json=fb_other)
        if i % 4 == 0:
            buy = {"user_id": u, "item_id": items[-1], "type": "purchase", "event_id": f"ex-{u}"}
            api.post("/v1/events", json={"events": [buy]})
    names, records = engine.experiments.exploration_log("ex1")
    assert [s.name for s in names] == ["base", "diverse", "plain"]
    assert len(records) == len(users)
    for rid, (u, variant, items) in served.items():
        rec = engine.experiments.store.get(f"log:ex1:{rid}")  # durable, by request id
        assert rec["user"] == u and rec["lists"][rec["served"]] == items
        assert ["base", "diverse", "plain"][rec["served"]] == variant
        assert len(rec["lists"]) == 3 and rec["shares"] == pytest.approx([1 / 3] * 3)
        assert rec["clicks"] == clicks[rid]
    assert sum(r.clicks for r in records) == sum(clicks.values())
    assert sum(r.purchases for r in records) == len(range(0, len(users), 4))
    api.post("/v1/experiments/ex1/stop", json={"action": "rollback"})
    out = CliRunner().invoke(
        cli, ["experiments", "tune", "--store", str(store), "--experiment", "ex1"]
    )
    assert out.exit_code == 0, out.output
    assert f"{len(users)} logged requests" in out.output and "diverse" in out.output
    wrong = CliRunner().invoke(
        cli, ["experiments", "tune", "--store", str(store), "--experiment", "ab1"]
    )
    assert wrong.exit_code == 2 and "fixed experiment" in wrong.output


def test_every_strategy_setting_can_be_posted() -> None:
    """A strategy's own ``to_dict`` (every setting, as the off-policy grid posts it) is a valid
    variant: no setting of :class:`Strategy` is missing from the API's schema."""
    from dataclasses import fields

    from shoprec.ranking.strategy import Strategy
    from shoprec.serving.schemas.experiments import StrategyIn

    assert {f.name for f in fields(Strategy)} == set(StrategyIn.model_fields)
    assert StrategyIn.model_validate(Strategy().to_dict()).overrides() == Strategy().to_dict()
