"""Pages of served lists and recommendation ids (issue 24): page 2 never repeats page 1, also
after events in between; every list answer names a recommendation id that events and feedback
carry into the event log; impressions are stored but never count as interest."""

from __future__ import annotations

import time

import httpx
import pytest

from shoprec.data.records import EventType
from shoprec.serving.pages import MAX_OFFSET, MemoryPageStore, PageError, Pages


def _ids(body: dict) -> list[str]:
    return [it["item_id"] for it in body["items"]]


def _shopper(client, built, user: str) -> float:
    """A new shopper of this test with a few views; returns the event time used."""
    ts = built.engine.clock  # the shop's own time: the shared engine's clock stays put
    items = built.engine.catalog.ids[1:4]
    events = [{"user_id": user, "item_id": i, "type": "view", "timestamp": ts} for i in items]
    assert client.post("/v1/events", json={"events": events}).status_code == 200
    return ts


def test_feed_pages_never_repeat_also_after_an_event(client, built) -> None:
    ts = _shopper(client, built, "pages-feed-1")
    url = "/v1/users/pages-feed-1/recommendations"
    first = client.get(url, params={"n": 8}).json()
    rid, page1 = first["recommendation_id"], _ids(first)
    assert first["offset"] == 0 and len(page1) == 8
    # an event between the pages (a click on a shown item) changes the shopper's state
    ev = {"user_id": "pages-feed-1", "item_id": page1[0], "type": "click", "timestamp": ts}
    assert client.post("/v1/events", json={"events": [{**ev, "recommendation_id": rid}]}).is_success
    second = client.get(url, params={"n": 8, "cursor": rid}).json()
    assert second["recommendation_id"] == rid and second["offset"] == 8
    page2 = _ids(second)
    assert len(page2) == 8 and not set(page1) & set(page2)
    # Gorse-style: offset alone continues the shopper's latest list of the same parameters
    third = client.get(url, params={"n": 8, "offset": 16}).json()
    assert third["recommendation_id"] == rid
    assert not set(_ids(third)) & (set(page1) | set(page2))
    # asking page 2 again recomputes it, still without page 1's items
    again = client.get(url, params={"n": 8, "offset": 8, "cursor": rid}).json()
    assert not set(_ids(again)) & set(page1)
    # offset 0 without a cursor is a new list
    assert client.get(url, params={"n": 8}).json()["recommendation_id"] != rid


def test_anonymous_session_feed_pages(client) -> None:
    url = "/v1/sessions/pages-anon-1/recommendations"
    first = client.get(url, params={"n": 5}).json()
    nxt = client.get(url, params={"n": 5, "cursor": first["recommendation_id"]}).json()
    assert nxt["offset"] == 5 and not set(_ids(first)) & set(_ids(nxt))


def test_similar_and_search_pages(client, built) -> None:
    item = built.engine.catalog.ids[5]
    first = client.get(f"/v1/items/{item}/similar", params={"n": 5}).json()
    nxt = client.get(
        f"/v1/items/{item}/similar", params={"n": 5, "cursor": first["recommendation_id"]}
    ).json()
    assert _ids(first) and not set(_ids(first)) & set(_ids(nxt))
    word = built.engine.catalog.title(5).split()[0]
    s1 = client.get("/v1/search", params={"q": word, "n": 5}).json()
    s2 = client.get("/v1/search", params={"q": word, "n": 5, "offset": 5}).json()
    assert s1["recommendation_id"] == s2["recommendation_id"] and s2["offset"] == 5
    assert _ids(s1) and not set(_ids(s1)) & set(_ids(s2))


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"offset": -1}, "offset", 422),
        ({"offset": 5000}, "offset", 422),
        ({"cursor": "not a cursor!"}, "cursor", 422),
        ({"cursor": "neverServedXYZ"}, "cursor", 404),  # well-formed, unknown or expired
    ],
)
def test_bad_pages_are_refused_naming_the_field(
    client, params: dict, field: str, status: int
) -> None:
    r = client.get("/v1/users/pages-bad/recommendations", params=params)
    assert r.status_code == status and field in r.json()["error"]


def test_a_cursor_continues_only_its_own_list(client, built) -> None:
    feed = client.get("/v1/users/pages-own-1/recommendations", params={"n": 3}).json()
    rid = feed["recommendation_id"]
    for url, params in [
        ("/v1/users/pages-own-2/recommendations", {}),  # another shopper
        ("/v1/users/pages-own-1/recommendations", {"category": "Makeup"}),  # other filters
        ("/v1/search", {"q": "cream"}),  # another kind of list
    ]:
        r = client.get(url, params={**params, "cursor": rid})
        assert r.status_code == 422 and r.json()["error"].startswith("cursor:"), url


def test_memory_is_bounded_and_expires() -> None:
    pages = Pages(MemoryPageStore(ttl_s=0.2, max_lists=3))
    items = [f"i{k}" for k in range(50)]

    def compute(k: int, shown: frozenset[str]) -> list[str]:
        return [i for i in items if i not in shown][:k]

    first = pages.serve("feed", "u1", 5, None, None, compute, str)
    rids = [pages.record("rank", ["a"]) for _ in range(6)]  # pushes the first list out
    with pytest.raises(PageError, match="cursor"):
        pages.serve("feed", "u1", 5, None, first.recommendation_id, compute, str)
    assert len(pages.store._cache) <= 6  # type: ignore[attr-defined]
    assert pages.lookup(rids[-1]) is not None
    time.sleep(0.25)
    assert pages.lookup(rids[-1]) is None  # expired
    # a page past what was shown so far computes the gap: still no repeats
    p1 = pages.serve("feed", "u2", 5, 0, None, compute, str)
    p3 = pages.serve("feed", "u2", 5, 10, p1.recommendation_id, compute, str)
    assert p3.items == items[10:15]
    # a list ends after MAX_OFFSET items: no computing, no memory past it
    assert pages.serve("feed", "u3", 5, MAX_OFFSET + 1, None, compute, str).items == []


def test_feedback_impressions_and_clicks_are_stored_events(client, built) -> None:
    ts = _shopper(client, built, "pages-fb-1")
    feed = client.get("/v1/users/pages-fb-1/recommendations", params={"n": 4}).json()
    rid, shown = feed["recommendation_id"], _ids(feed)
    trending = built.engine.trending.scores(built.engine.bundle.n_rows).copy()
    body = {
        "user_id": "pages-fb-1",
        "impressions": shown,
        "clicks": shown[:1],
        "recommendation_id": rid,
        "timestamp": ts,
    }
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 200 and r.json()["stored"] == 5
    assert client.post("/v1/feedback", json=body).json()["stored"] == 0  # a resend, once
    stored = built.engine.events.user_events("pages-fb-1")
    imp = [e for e in stored if e.type is EventType.IMPRESSION]
    assert [e.item_id for e in imp] == shown and {e.recommendation_id for e in imp} == {rid}
    clicks = [e for e in stored if e.type is EventType.CLICK]
    assert [(e.item_id, e.recommendation_id) for e in clicks] == [(shown[0], rid)]
    # exposure is not interest: no recent item, no trending weight from the impressions
    recent = [i for i, _, k in built.engine.state("pages-fb-1").recent if k == "impression"]
    assert recent == []
    after = built.engine.trending.scores(built.engine.bundle.n_rows)
    changed = {built.engine.catalog.ids[i] for i in (after != trending).nonzero()[0]}
    assert changed <= {shown[0]}  # only the clicked item (other tests' events aside)


def test_pages_ids_and_feedback_through_a_real_server(live_server: str) -> None:
    user, ts = "pages-live-1", 90 * 86_400.0
    with httpx.Client(base_url=live_server, timeout=30) as c:
        url = f"/v1/users/{user}/recommendations"
        p1 = c.get(url, params={"n": 6}).json()
        rid = p1["recommendation_id"]
        ev = {"user_id": user, "item_id": p1["items"][0]["item_id"], "type": "view"}
        r = c.post(
            "/v1/events", json={"events": [{**ev, "timestamp": ts, "recommendation_id": rid}]}
        )
        assert r.status_code == 200
        p2 = c.get(url, params={"n": 6, "cursor": rid}).json()
        assert p2["recommendation_id"] == rid and not set(_ids(p1)) & set(_ids(p2))
        fb = {"user_id": user, "impressions": _ids(p2), "recommendation_id": rid, "timestamp": ts}
        assert c.post("/v1/feedback", json=fb).json()["stored"] == 6
        events = c.get(f"/v1/users/{user}/export").json()["events"]
        assert [e["type"] for e in events] == ["view"] + ["impression"] * 6
        assert {e["recommendation_id"] for e in events} == {rid}
        bad = c.get(url, params={"cursor": "expiredOrNever"})
        assert bad.status_code == 404 and bad.json()["error"].startswith("cursor:")


def test_lists_in_redis_are_shared_and_a_down_store_still_answers() -> None:
    import redis

    from redis_fixtures import SHARED_REDIS_URL, missing_redis, shared_redis_down
    from shoprec.serving.pages import RedisPageStore
    from shoprec.store.errors import StoreUnavailable
    from shoprec.store.redis_health import connect

    items = [f"i{k}" for k in range(30)]

    def compute(k: int, shown: frozenset[str]) -> list[str]:
        return [i for i in items if i not in shown][:k]

    prefix = f"test:pages:{time.time_ns()}:"
    client = redis.Redis.from_url(SHARED_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        missing_redis(shared_redis_down(exc) or "the shared Redis is down")
    one, other = (Pages(RedisPageStore(client, prefix, 60)) for _ in range(2))  # two workers
    p1 = one.serve("feed", "u", 4, None, None, compute, str)
    p2 = other.serve("feed", "u", 4, None, p1.recommendation_id, compute, str)
    assert p2.items == items[4:8] and client.ttl(f"{prefix}pages:{p1.recommendation_id}") > 0
    down = Pages(RedisPageStore(connect("redis://127.0.0.1:1", 0.1), prefix, 60))
    # unremembered: offset 4 is the 5th to 8th of a list computed afresh
    assert down.serve("feed", "u", 4, 4, None, compute, str).items == items[4:8]
    with pytest.raises(StoreUnavailable):  # a cursor that cannot be looked up: the app's 503
        down.serve("feed", "u", 4, None, p1.recommendation_id, compute, str)
