"""API keys on write and admin endpoints, rate limits (429), body limits (413), export."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shoprec.serving.app import create_app
from shoprec.serving.security import SecurityConfig


@pytest.fixture(scope="module")
def secured(built) -> TestClient:  # noqa: ANN001
    cfg = SecurityConfig(write_keys=("w-key",), admin_keys=("a-key",), max_body_bytes=50_000)
    return TestClient(create_app(built.engine, security=cfg))


EVENT = {"events": [{"user_id": "sec-user", "item_id": "P00001", "type": "view"}]}


def test_write_needs_a_write_key(secured: TestClient) -> None:
    assert secured.post("/v1/events", json=EVENT).status_code == 401
    r = secured.post("/v1/events", json=EVENT, headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "API key" in r.json()["error"]
    assert secured.post("/v1/events", json=EVENT, headers={"X-API-Key": "w-key"}).status_code == 200
    ok = secured.post("/v1/events", json=EVENT, headers={"Authorization": "Bearer a-key"})
    assert ok.status_code == 200  # admin keys may write too
    assert secured.delete("/v1/users/sec-user").status_code == 401
    assert secured.put("/v1/items", json={"items": [{"item_id": "z"}]}).status_code == 401


def test_admin_needs_an_admin_key(secured: TestClient) -> None:
    body = {"category": "Shampoo", "n": 3}
    # a valid key of too low a level: 403 (authenticated, not allowed), naming the level
    r = secured.post("/v1/audiences", json=body, headers={"X-API-Key": "w-key"})
    assert r.status_code == 403 and "write key" in r.json()["error"]
    assert secured.post("/v1/audiences", json=body, headers={"X-API-Key": "a-key"}).status_code in (
        200,
        404,
    )
    assert secured.get("/v1/users/sec-user/export").status_code == 401


def test_catalog_reads_stay_open_without_read_keys(secured: TestClient, built) -> None:  # noqa: ANN001
    item = built.engine.catalog.ids[1]
    assert secured.get(f"/v1/items/{item}").status_code == 200
    assert secured.get("/healthz").status_code == 200
    # a shopper's own data is not the catalog: once keys are configured it needs one (issue 23)
    assert secured.get("/v1/users/sec-user/recommendations?n=3").status_code == 401
    ok = secured.get("/v1/users/sec-user/recommendations?n=3", headers={"X-API-Key": "w-key"})
    assert ok.status_code == 200


def test_read_keys_when_configured(built) -> None:  # noqa: ANN001
    c = TestClient(create_app(built.engine, security=SecurityConfig(read_keys=("r",))))
    assert c.get("/v1/users/u/recommendations").status_code == 401
    assert c.get("/v1/users/u/recommendations", headers={"X-API-Key": "r"}).status_code == 200


def test_rate_limit_answers_429_with_retry_after(built) -> None:  # noqa: ANN001
    c = TestClient(create_app(built.engine, security=SecurityConfig(rate_per_s=1.0, burst=3)))
    codes = [c.get("/v1/users/u/recommendations?n=1").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = c.get("/v1/users/u/recommendations?n=1")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_body_limit(secured: TestClient) -> None:
    big = {"events": [{"user_id": "u", "item_id": "i" * 200, "type": "view"}] * 400}
    r = secured.post("/v1/events", json=big, headers={"X-API-Key": "w-key"})
    assert r.status_code == 413 and "body" in r.json()["error"]


def test_export_then_delete_leaves_nothing(secured: TestClient, built) -> None:  # noqa: ANN001
    h = {"X-API-Key": "a-key"}
    secured.post(
        "/v1/events",
        json={
            "events": [
                {
                    "user_id": "gdpr",
                    "item_id": "P00002",
                    "type": "review",
                    "text": "Lovely.",
                    "rating": 5,
                },
                {"user_id": "gdpr", "item_id": "P00003", "type": "purchase"},
            ]
        },
        headers=h,
    )
    data = secured.get("/v1/users/gdpr/export", headers=h).json()
    assert len(data["events"]) == 2 and data["state"]["n_events"] == 2
    assert secured.delete("/v1/users/gdpr", headers=h).json()["events_deleted"] == 2
    data = secured.get("/v1/users/gdpr/export", headers=h).json()
    assert data["events"] == [] and data["state"] is None
    assert built.engine.events.user_events("gdpr") == []


def test_the_storefront_can_be_switched_off(built) -> None:  # noqa: ANN001
    off = TestClient(create_app(built.engine, security=SecurityConfig(storefront=False)))
    r = off.get("/")
    assert r.status_code == 404 and "SHOPREC_STOREFRONT" in r.json()["error"]


def test_a_server_key_may_show_a_chosen_shopper_on_the_storefront(built) -> None:  # noqa: ANN001
    cfg = SecurityConfig(write_keys=("w-key",), token_secret="k" * 40)
    c = TestClient(create_app(built.engine, security=cfg))
    shown = c.get("/?shopper=u00007", headers={"X-API-Key": "w-key"}).text
    assert '<option value="u00007">' in shown and 'name="shopper-token"' in shown
    assert '<option value="u00007">' not in c.get("/?shopper=u00007").text  # not for a visitor


def test_shoprec_token_prints_a_token_the_server_accepts(built, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from shoprec.cli import app

    secret = "c" * 40
    monkeypatch.setenv("SHOPREC_SHOPPER_TOKEN_SECRET", secret)
    out = CliRunner().invoke(app, ["token", "--user", "cli-shopper", "--ttl", "60"])
    assert out.exit_code == 0, out.output
    c = TestClient(create_app(built.engine, security=SecurityConfig(token_secret=secret)))
    auth = {"Authorization": f"Bearer {out.output.strip()}"}
    assert c.get("/v1/users/cli-shopper/profile", headers=auth).status_code == 200
    assert c.get("/v1/users/someone-else/profile", headers=auth).status_code == 403
    too_long = CliRunner().invoke(app, ["token", "--user", "u", "--ttl", "99999"])
    assert too_long.exit_code != 0


def test_the_rate_limits_memory_empties_once_windows_expire() -> None:
    """Issue 23, Why 5: the old buckets were never pruned. A caller's counter expires with
    its window, and ``limits`` drops expired counters (on its next request from anyone)."""
    import asyncio
    import time

    from shoprec.serving.ratelimit import RateLimit

    limit = RateLimit(SecurityConfig(rate_per_s=5.0, burst=5))  # 5 in a 1 s window
    assert limit._memory is not None
    callers = [f"addr:10.0.{k // 250}.{k % 250}" for k in range(500)]
    assert set(asyncio.run(_hits(limit, callers))) == {0.0}
    storage = limit._memory.storage
    assert len(storage.storage) == 500  # type: ignore[attr-defined]
    time.sleep(1.2)  # every window is over
    asyncio.run(_hits(limit, ["addr:10.9.9.9"]))
    deadline = time.monotonic() + 5
    while len(storage.storage) > 1 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert list(storage.storage) == ["LIMITER/addr:10.9.9.9/5/1/second"]  # type: ignore[attr-defined]


async def _hits(limit, callers: list[str]) -> list[float]:  # noqa: ANN001
    return [await limit.hit(who) for who in callers]
