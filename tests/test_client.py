"""``shoprec.client`` against the app's OpenAPI document: one sync and one async method per
operation, named by its operation id, each sending that operation's method and path (no
method names a route that does not exist); and the sync client calling every route of a real
``shoprec serve``, the async one a feed and an event."""

from __future__ import annotations

import asyncio
import inspect
import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from shoprec.client import AsyncClient, Client, ShoprecError
from shoprec.serving.openapi_examples import EXAMPLES, PARAMETERS


@pytest.fixture(scope="module")
def operations(client: TestClient) -> dict[str, tuple[str, re.Pattern[str]]]:
    """``{operation id: (HTTP method, path pattern)}`` of the app's OpenAPI document."""
    spec = client.get("/openapi.json").json()
    out = {}
    for path, ops in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, op in ops.items():
            out[op["operationId"]] = (method.upper(), pattern)
    return out


def _methods(cls: type) -> set[str]:
    return {n for n, f in vars(cls).items() if inspect.isfunction(f) and not n.startswith("_")}


def _arguments(name: str, fn: Any) -> dict[str, Any]:
    """Example arguments: the request example's fields, else the parameter examples."""
    given = EXAMPLES.get(name, {}).get("request", {})
    args = {}
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.name in given:
            args[p.name] = given[p.name]
        elif p.name in PARAMETERS:
            args[p.name] = PARAMETERS[p.name]
        else:
            assert p.default is not inspect.Parameter.empty, f"{name}: no example for {p.name}"
    return args


def test_one_method_per_operation_sending_its_route(operations: dict) -> None:
    lifecycle = {"close", "aclose"}
    assert _methods(Client) - lifecycle == set(operations)
    assert _methods(AsyncClient) - lifecycle == set(operations)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with Client("http://shop", transport=httpx.MockTransport(answer)) as shop:
        for name, (method, path) in sorted(operations.items()):
            getattr(shop, name)(**_arguments(name, getattr(Client, name)))
            assert (sent[-1].method, bool(path.match(sent[-1].url.path))) == (method, True), name


def test_async_methods_send_the_same_requests(operations: dict) -> None:
    sent: dict[str, list[tuple[str, str, bytes]]] = {"sync": [], "async": []}

    def recorder(kind: str):  # noqa: ANN202
        def answer(request: httpx.Request) -> httpx.Response:
            sent[kind].append((request.method, str(request.url), request.content))
            return httpx.Response(200, json={})

        return answer

    async def run_async() -> None:
        async with AsyncClient(
            "http://shop", transport=httpx.MockTransport(recorder("async"))
        ) as a:
            for name in sorted(operations):
                assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
                await getattr(a, name)(**_arguments(name, getattr(AsyncClient, name)))

    asyncio.run(run_async())
    with Client("http://shop", transport=httpx.MockTransport(recorder("sync"))) as shop:
        for name in sorted(operations):
            getattr(shop, name)(**_arguments(name, getattr(Client, name)))
    assert sent["async"] == sent["sync"]


def test_errors_carry_status_field_retry_and_request_id() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/events":
            return httpx.Response(
                503, json={"error": "store unavailable"}, headers={"retry-after": "1"}
            )
        body = {"error": "n: must be >= 1", "errors": [{"field": "n", "message": "too small"}]}
        return httpx.Response(422, json=body, headers={"x-request-id": "abc"})

    with Client("http://shop", transport=httpx.MockTransport(refuse)) as shop:
        with pytest.raises(ShoprecError) as err:
            shop.get_recommendations("u", n=0)
        assert (err.value.status, err.value.error, err.value.request_id) == (
            422,
            "n: must be >= 1",
            "abc",
        )
        assert err.value.errors[0]["field"] == "n"
        with pytest.raises(ShoprecError) as err:
            shop.post_events([{"user_id": "u", "item_id": "i", "type": "view"}])
        assert (err.value.status, err.value.retry_after) == (503, 1.0)


@pytest.mark.timeout(120)
def test_client_calls_every_route_of_a_real_server(live_server: str, operations: dict) -> None:
    """Every operation through ``shoprec.client`` against ``shoprec serve``: each returns
    its documented answer (or, for models this shop may lack, a documented refusal)."""
    tag = uuid.uuid4().hex[:8]
    me, session, new_item = f"client-{tag}", f"client-s-{tag}", f"client-item-{tag}"
    called: set[str] = set()
    with Client(live_server) as shop:

        def record(request: httpx.Request) -> None:
            for name, (method, path) in operations.items():
                if request.method == method and path.match(request.url.path):
                    called.add(name)

        shop.http.event_hooks["request"].append(record)
        assert shop.get_healthz()["status"] == "ok"
        with pytest.raises(ShoprecError) as err:  # the server's 422 names the field
            shop.get_recommendations(me, n=0)
        assert err.value.status == 422 and err.value.error.startswith("query.n")
        assert re.fullmatch(r"[0-9a-f]{32}", err.value.request_id or "")  # made by the server
        echoed = shop.http.get("/readyz", headers={"X-Request-ID": f"e2e-{tag}"})
        assert echoed.headers["x-request-id"] == f"e2e-{tag}"
        assert shop.get_readyz()["checks"] == {"store": "ok", "model": "ok"}
        trending = [x["item_id"] for x in shop.get_recommendations(f"nobody-{tag}", n=5)["items"]]
        first = trending[0]
        assert shop.put_items([{"item_id": new_item, "title": "Client test serum"}])["new"] == 1
        assert shop.get_item(new_item)["title"] == "Client test serum"
        events = [{"user_id": me, "item_id": i, "type": "view"} for i in trending[:3]]
        events.append({"user_id": me, "session_id": session, "item_id": first, "type": "view"})
        assert shop.post_events(events)["accepted"] == 4
        feed = shop.get_recommendations(me, n=5)
        page2 = shop.get_recommendations(me, n=5, cursor=feed["recommendation_id"])
        assert not {x["item_id"] for x in feed["items"]} & {x["item_id"] for x in page2["items"]}
        assert shop.get_profile(me)["n_events"] == 4
        assert shop.get_session_recommendations(f"anon-{tag}", n=3)["items"]
        assert [r["user_id"] for r in shop.batch_recommendations([me, f"x-{tag}"], n=3)] == [
            me,
            f"x-{tag}",
        ]
        ranked = shop.rank_items([*trending, "missing-" + tag], user_id=me)
        assert ranked["unknown"] == ["missing-" + tag]
        assert "items" in shop.get_similar_items(first, n=3)
        assert shop.search("serum", n=3)["query"] == "serum"
        fb = shop.post_feedback(me, impressions=trending[:2], clicks=trending[:1])
        assert fb["clicks"] == 1
        assert shop.ask_assistant("a gift under $30?", user_id=me)["answer"]
        for refusable in (
            lambda: shop.score_sentiment(["love it"]),
            lambda: shop.get_item_sentiment(first),
            lambda: shop.post_audiences(item_ids=[first], n=5),
            lambda: shop.post_messages(me, first),
        ):
            try:
                refusable()
            except ShoprecError as e:  # no sentiment model, no audience for this item
                assert e.status in (404, 503), e
        name = f"client-{tag}"
        variants = [{"name": "a", "strategy": {}}, {"name": "b", "strategy": {"rerank": False}}]
        try:
            assert shop.create_experiment(name, variants)["name"] == name
            assert name in [x["name"] for x in shop.list_experiments()]
            assert shop.get_experiment_report(name)["status"] == "running"
            assert shop.stop_experiment(name, action="rollback")["action"] == "rollback"
        except ShoprecError as e:  # another test's experiment is running: 409
            assert e.status == 409, e
            shop.list_experiments()
            with pytest.raises(ShoprecError):
                shop.get_experiment_report(name)
            with pytest.raises(ShoprecError):
                shop.stop_experiment(name)
        rule = shop.create_rule("block", {"type": "item", "value": new_item})
        assert rule["rule_id"] in [r["rule_id"] for r in shop.list_rules()["rules"]]
        assert shop.delete_rule(rule["rule_id"])["deleted"] is True
        assert shop.export_user(me)["user_id"] == me
        assert shop.delete_user(me)["events_deleted"] >= 4
        anon = f"{me}-anon"
        shop.post_events([{"session_id": anon, "item_id": first, "type": "view"}])
        assert shop.delete_session(anon) == {"session_id": anon, "events_deleted": 1}
        assert "shoprec_http_requests_total" in shop.get_metrics()
        assert shop.get_stats()["items"] > 0
        with pytest.raises(ShoprecError) as err:  # this server has no token secret: 409
            shop.create_token(user_id=me)
        assert err.value.status == 409 and "SHOPREC_SHOPPER_TOKEN_SECRET" in err.value.error
    assert called == set(operations)

    async def async_calls() -> None:
        async with AsyncClient(live_server) as shop:
            await shop.post_events([{"user_id": me, "item_id": first, "type": "view"}])
            assert (await shop.get_recommendations(me, n=3))["user_id"] == me

    asyncio.run(async_calls())
