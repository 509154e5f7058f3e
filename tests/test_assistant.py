"""The shopping assistant: intents, constraints, grounding (0 unsupported claims), HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shoprec.nlp.assistant import (
    Answer,
    Citation,
    Constraints,
    constraints_of,
    intent_of,
    unsupported,
)

CATS = {"shampoo": "Shampoo", "nail polish": "Nail polish"}
BRANDS = {"opi": "OPI"}


@pytest.mark.parametrize(
    ("q", "intent"),
    [
        ("Where is my order?", "order"),
        ("How do I return a lipstick I bought", "order"),
        ("my package arrived damaged", "order"),
        ("Tell me about the OPI Nail Lacquer Big Apple Red", "product"),
        ("What is the Maybelline Great Lash mascara?", "product"),
        ("I need a shampoo for curly hair", "need"),
        ("something for dark circles under my eyes", "need"),
    ],
)
def test_intent(q: str, intent: str) -> None:
    assert intent_of(q) == intent


def test_constraints() -> None:
    c, rest = constraints_of("an OPI nail polish under $12 but not glitter", CATS, BRANDS)
    assert (c.max_price, c.brand, c.category, c.exclude) == (
        12.0,
        "OPI",
        "Nail polish",
        ["glitter"],
    )
    assert "12" not in rest and "glitter" not in rest
    c, _ = constraints_of("shampoo between 10 and 25 dollars", CATS, BRANDS)
    assert (c.min_price, c.max_price, c.category) == (10.0, 25.0, "Shampoo")
    c, _ = constraints_of("a serum over $40 without fragrance", CATS, BRANDS)
    assert (c.min_price, c.exclude) == (40.0, ["fragrance"])


def test_unsupported_catches_invented_facts() -> None:
    cites = [Citation("A", "title", "Gentle Cleanser 50 ml"), Citation("A", "price", "$9.99")]
    ok = Answer("need", "1. Gentle Cleanser 50 ml ($9.99)", [("A", [])], cites, Constraints())
    assert unsupported(ok) == []
    bad = Answer(
        "need",
        "1. Gentle Cleanser 50 ml ($7.99), 4.8 stars",
        [("A", []), ("B", [])],
        cites,
        Constraints(),
    )
    assert set(unsupported(bad)) == {"number 7.99", "number 4.8", "product B"}


def ask(client: TestClient, question: str, user_id: str | None = "u00001") -> dict:
    r = client.post("/v1/assistant", json={"question": question, "user_id": user_id})
    assert r.status_code == 200, r.text
    return r.json()


def grounded(body: dict) -> list[str]:
    a = Answer(
        body["intent"],
        body["answer"],
        [(p["item_id"], p["reasons"]) for p in body["products"]],
        [Citation(**c) for c in body["citations"]],
        Constraints(),
    )
    return unsupported(a)


QUESTIONS = [
    "a gentle facial cleanser under $20",
    "shampoo but not dry shampoo",
    "where is my order?",
    "hair dryer between 30 and 80 dollars",
    "something for my beard",
    "a perfume gift for my mother",
    "nail polish in a bright colour, less than 15 dollars",
    "what do you have for dry skin?",
    "Can I return something I bought?",
    "sunscreen for the face",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_answers_are_grounded(client: TestClient, question: str) -> None:
    body = ask(client, question)
    assert body["answer"] and grounded(body) == []


def test_constraints_are_applied(client: TestClient, built) -> None:  # noqa: ANN001
    cat = built.engine.catalog
    body = ask(client, "a gentle facial cleanser under $20")
    assert body["products"]
    for p in body["products"]:
        price = cat.items[cat.get(p["item_id"])].price
        assert price is not None and price <= 20
    body = ask(client, "shampoo but not dry shampoo")
    assert body["products"] and not any(
        "dry" in cat.title(cat.get(p["item_id"])).lower() for p in body["products"]
    )


def test_one_product_and_order(client: TestClient, built) -> None:  # noqa: ANN001
    cat = built.engine.catalog
    title = cat.title(5)
    body = ask(client, f"Tell me about the {title}")
    assert body["intent"] == "product" and body["products"][0]["item_id"] == cat.ids[5]
    body = ask(client, "where is my order?")
    assert body["intent"] == "order" and body["products"] == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": 5},
        {"question": "x" * 3000},
        {"question": "hi", "user_id": ""},
        {"q": "hi"},
    ],
)
def test_bad_requests(client: TestClient, payload: dict) -> None:
    r = client.post("/v1/assistant", json=payload)
    assert r.status_code == 422 and r.json()["error"]
