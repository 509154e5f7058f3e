"""Issue 23, Why 1, 2, 5 and the body points of Why 10, as attacks on a real ``shoprec serve``.

One server for the module, configured as the issue found the shop: write keys only (no admin
or read keys), plus a shopper-token secret and a rate limit. Each test is an attacker's
request; on the code before the fix each was answered (admin routes open without a key,
anyone reading any shopper, a random key per request never limited, a chunked body over the
limit a 400, bodies parsed before the key check). Each test connects from its own loopback
address (127.0.0.N), so that the address-keyed rate limit of one test never touches another.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving_fixtures import free_port, serve_synthetic
from shoprec.serving.tokens import mint

SECRET = "attack-test-secret-" + "x" * 32
WRITE_KEY, LIMITED_KEY = "w-key-attacks", "w-key-limited"
BURST = 30  # per caller, in any 15 s (rate 2/s)


@pytest.fixture(scope="module")
def base(built, serving_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    env = {
        "SHOPREC_WRITE_KEYS": f"{WRITE_KEY},{LIMITED_KEY}",
        "SHOPREC_ADMIN_KEYS": "",
        "SHOPREC_READ_KEYS": "",
        "SHOPREC_SHOPPER_TOKEN_SECRET": SECRET,
        "SHOPREC_SHOPPER_TOKEN_MAX_TTL_S": "3600",
        "SHOPREC_RATE_LIMIT_PER_S": "2",
        "SHOPREC_RATE_LIMIT_BURST": str(BURST),
        "SHOPREC_MAX_BODY_BYTES": "200000",
    }
    port = free_port()
    store = tmp_path_factory.mktemp("attacks-access")
    proc = serve_synthetic(serving_root, ["--store", str(store)], port, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


_ADDRESSES = iter(range(10, 250))


def attacker(base: str, **headers: str) -> httpx.Client:
    """A client from a loopback address of its own (its own rate-limit bucket)."""
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{next(_ADDRESSES)}")
    return httpx.Client(base_url=base, headers=headers, transport=transport, timeout=30)


def token(user: str | None, session: str | None = None, ttl: float = 600, **kw: float) -> str:
    return mint(SECRET, user, session, ttl, **kw)[0]


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture(scope="module")
def victim(base: str) -> str:
    """A shopper with a purchase and views: what an attacker would like to read."""
    who = f"victim-{uuid.uuid4().hex[:8]}"
    with attacker(base, **{"X-API-Key": WRITE_KEY}) as shop:
        items = [
            x["item_id"] for x in shop.get(f"/v1/users/{who}/recommendations?n=3").json()["items"]
        ]
        events = [{"user_id": who, "item_id": i, "type": "view"} for i in items]
        events.append({"user_id": who, "item_id": items[0], "type": "purchase"})
        assert shop.post("/v1/events", json={"events": events}).status_code == 200
        assert shop.get(f"/v1/users/{who}/profile").json()["bought"] == [items[0]]
    return who


# -- Why 1: admin routes are never open once a key is configured --------------------------------


def test_admin_routes_refuse_everyone_without_admin_keys(base: str, victim: str) -> None:
    admin = [
        ("GET", f"/v1/users/{victim}/export", None),
        ("POST", "/v1/audiences", {"category": "x", "n": 3}),
        ("POST", "/v1/messages", {"user_id": victim, "item_id": "P00001"}),
        ("POST", "/v1/experiments", {"name": "evil", "variants": [{"name": "a"}, {"name": "b"}]}),
        ("POST", "/v1/experiments/evil/stop", None),
        ("GET", "/v1/rules", None),
        ("POST", "/v1/rules", {"action": "block", "target": {"type": "item", "value": "P00001"}}),
    ]
    for headers in ({}, {"X-API-Key": WRITE_KEY}):
        with attacker(base, **headers) as c:
            for method, path, body in admin:
                r = c.request(method, path, json=body)
                assert r.status_code in (401, 403), (headers, method, path, r.status_code, r.text)
                said = r.json()["error"]
                assert "SHOPREC_ADMIN_KEYS" in said or "key" in said or "token" in said, said


# -- Why 2: nobody reads a shopper's data without a key or that shopper's token ------------------


def test_a_shoppers_data_needs_a_key_or_their_token(base: str, victim: str) -> None:
    with attacker(base) as c:
        for path in (
            f"/v1/users/{victim}/profile",
            f"/v1/users/{victim}/recommendations?n=3",
            f"/v1/search?q=cream&user_id={victim}",
            "/v1/sessions/some-session/recommendations",
        ):
            r = c.get(path)
            assert r.status_code == 401, (path, r.text)
            assert "a shopper's data" in r.json()["error"]
        r = c.post("/v1/assistant", json={"question": "what did I buy?", "user_id": victim})
        assert r.status_code == 401
        assert c.get("/v1/search?q=cream").status_code == 200  # the catalog stays open


def test_a_token_reads_and_writes_only_its_own_shopper(base: str, victim: str) -> None:
    me = f"me-{uuid.uuid4().hex[:8]}"
    with attacker(base, **bearer(token(me))) as c:
        assert c.get(f"/v1/users/{me}/recommendations?n=3").status_code == 200
        assert c.get(f"/v1/users/{me}/profile").status_code == 200
        assert c.get(f"/v1/users/{me}/export").status_code == 200  # their own export
        item = c.get(f"/v1/users/{me}/recommendations?n=1").json()["items"][0]["item_id"]
        mine = {"user_id": me, "item_id": item, "type": "view"}
        assert c.post("/v1/events", json={"events": [mine]}).status_code == 200
        refused = [
            c.get(f"/v1/users/{victim}/profile"),
            c.get(f"/v1/users/{victim}/export"),
            c.get(f"/v1/users/{me}/recommendations?session_id=other"),
            c.get(f"/v1/search?q=cream&user_id={victim}"),
            c.post("/v1/assistant", json={"question": "latest purchases?", "user_id": victim}),
            c.post("/v1/feedback", json={"user_id": victim, "impressions": [item]}),
        ]
        for r in refused:
            assert r.status_code == 403 and "token is for user" in r.json()["error"], r.text
        theirs = {"user_id": victim, "item_id": item, "type": "purchase"}
        r = c.post("/v1/events", json={"events": [mine, theirs]})
        assert r.status_code == 403 and r.json()["error"].startswith("events.1.user_id"), r.text
        # nothing for a token beyond its shopper's data: server-key routes and erasure
        assert c.delete(f"/v1/users/{me}").status_code == 403
        assert c.put("/v1/items", json={"items": [{"item_id": "evil"}]}).status_code == 403
        assert c.post("/v1/tokens", json={"user_id": victim}).status_code == 403
        batch = c.post("/v1/recommendations/batch", json={"user_ids": [victim]})
        assert batch.status_code == 403 and "server key" in batch.json()["error"]
    assert "bought" not in refused[0].text  # the refusal carries none of their data


def test_expired_forged_and_overlong_tokens_are_401(base: str) -> None:
    me = "token-victim"
    cases = {
        "expired": token(me, ttl=60, now=time.time() - 3600),
        "bad signature": mint("another-shops-secret-" + "y" * 32, me, None, 600)[0],
        "longer than": token(me, ttl=7200),
        "not an API key": "not-a-jwt",
    }
    for what, tok in cases.items():
        with attacker(base, **bearer(tok)) as c:
            r = c.get(f"/v1/users/{me}/profile")
            assert r.status_code == 401 and what in r.json()["error"], (what, r.text)


def test_the_shop_mints_tokens_with_a_write_key(base: str) -> None:
    with attacker(base) as c:
        assert c.post("/v1/tokens", json={"user_id": "u"}).status_code == 401
    with attacker(base, **{"X-API-Key": WRITE_KEY}) as c:
        r = c.post("/v1/tokens", json={"user_id": "minted", "ttl_s": 60})
        assert r.status_code == 201 and r.json()["user_id"] == "minted"
        tok = r.json()["token"]
        too_long = c.post("/v1/tokens", json={"user_id": "minted", "ttl_s": 999_999})
        assert too_long.status_code == 422 and too_long.json()["error"].startswith("ttl_s")
    with attacker(base, **bearer(tok)) as c:
        assert c.get("/v1/users/minted/profile").status_code == 200


def test_the_storefront_lists_no_shopper_and_carries_its_own_token(base: str, victim: str) -> None:
    with attacker(base) as c:
        page = c.get("/").text
        shown = re.findall(r'<option value="([^"]*)"', page)
        assert len(shown) == 1 and shown[0].startswith("guest-"), shown
        assert victim not in page
        tok = re.search(r'<meta name="shopper-token" content="([^"]+)"', page)
        assert tok is not None
        headers = bearer(tok.group(1))
        assert (
            c.get(f"/v1/users/{shown[0]}/recommendations?n=3", headers=headers).status_code == 200
        )
        assert c.get(f"/v1/users/{victim}/profile", headers=headers).status_code == 403
        # a visitor cannot pick the shopper (only a caller with a server key may)
        picked = c.get(f"/?shopper={victim}").text
        assert victim not in picked


# -- Why 5: the rate limit counts verified callers, else the address -----------------------------


def test_a_fresh_random_key_per_request_is_still_limited(base: str) -> None:
    with attacker(base) as c:
        codes = [
            c.get("/v1/search?q=cream", headers={"X-API-Key": uuid.uuid4().hex}).status_code
            for _ in range(BURST + 5)
        ]
    assert set(codes[:BURST]) == {401}  # a wrong key is refused, and counted to the address
    assert codes[-1] == 429


def test_one_window_per_caller_across_access_levels(base: str) -> None:
    """Reads and writes of one key share a window (there was one limiter per level, each
    with its own burst of 100)."""
    with attacker(base, **{"X-API-Key": LIMITED_KEY}) as c:
        codes = [c.get("/v1/search?q=cream").status_code for _ in range(BURST // 2)]
        event = {"events": [{"user_id": "limited", "item_id": "P00001", "type": "view"}]}
        codes += [c.post("/v1/events", json=event).status_code for _ in range(BURST // 2 + 5)]
    assert set(codes[:BURST]) == {200} and codes[-1] == 429, codes


# -- Why 10: bodies: 413 for a chunked body over the limit, and no parsing before the key -------


def test_a_chunked_body_over_the_limit_is_413(base: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for _ in range(6000):
            yield b'{"user_id": "u", "item_id": "P00001", "type": "view"},'
        yield b"{}]}"

    with attacker(base, **{"X-API-Key": WRITE_KEY}) as c:
        r = c.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"].startswith("body"), r.text


def test_the_key_is_checked_before_the_body_is_parsed(base: str) -> None:
    """An unauthenticated caller's body is never read: a broken JSON body gets the 401, not
    the parser's 422 (the server parsed it before checking the key)."""
    with attacker(base) as c:
        broken = b'{"events": [' + b"[" * 100_000
        r = c.post("/v1/events", content=broken, headers={"content-type": "application/json"})
        assert r.status_code == 401, r.text
        r = c.post("/v1/rules", content=broken, headers={"content-type": "application/json"})
        assert r.status_code == 403, r.text
