"""Audiences and messages over HTTP (synthetic shop); grounding of messages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shoprec.nlp.assistant import Answer, Citation, Constraints, unsupported


def test_category_audience(client: TestClient, built) -> None:  # noqa: ANN001
    cat = built.engine.catalog
    category = cat.category_of(1)
    r = client.post("/v1/audiences", json={"category": category, "n": 25})
    assert r.status_code == 200, r.text
    body = r.json()
    scores = [u["score"] for u in body["users"]]
    assert len(scores) == 25 and scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores) and body["target_items"] > 0
    # shoppers whose recent items are in that category rank high
    top = body["users"][0]["user_id"]
    recent = built.engine.state(top).recent_items(10)
    assert any(cat.category_of(cat.get(i)) == category for i in recent)


def test_item_audience_and_errors(client: TestClient, built) -> None:  # noqa: ANN001
    ids = built.data.items.to_list()[:3]
    r = client.post("/v1/audiences", json={"item_ids": ids, "n": 5})
    assert r.status_code == 200 and len(r.json()["users"]) == 5
    for payload in (
        {},
        {"category": "x", "item_ids": ["a"]},
        {"category": "x", "n": 0},
        {"item_ids": ids, "n": 10**6},
        {"category": ""},
    ):
        bad = client.post("/v1/audiences", json=payload)
        assert bad.status_code == 422, payload
    assert client.post("/v1/audiences", json={"category": "No Such Category"}).status_code == 404


def test_message_is_personal_and_grounded(client: TestClient, built) -> None:  # noqa: ANN001
    user = built.data.users.to_list()[3]
    item = built.engine.state(user).recent_items(1)[0]
    r = client.post("/v1/messages", json={"user_id": user, "item_id": item, "name": "Sam"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"].startswith("Hi Sam!") and "Since you" in body["message"]
    a = Answer(
        "message",
        body["message"],
        [(item, [])],
        [Citation(**c) for c in body["citations"]],
        Constraints(),
    )
    assert unsupported(a) == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"user_id": "u"},
        {"user_id": "", "item_id": "x"},
        {"user_id": "u", "item_id": "x", "extra": 1},
    ],
)
def test_message_bad_requests(client: TestClient, payload: dict) -> None:
    assert client.post("/v1/messages", json=payload).status_code == 422


def test_message_unknown_item(client: TestClient) -> None:
    r = client.post("/v1/messages", json={"user_id": "u", "item_id": "nope"})
    assert r.status_code == 404 and "item_id" in r.json()["error"]
