"""Schemathesis against the app's own OpenAPI schema (about 290 generated requests; the
>= 1,000-request run is ``bench/fuzz_api.py``): no server error, every response as documented,
schema-valid input accepted, schema-invalid input refused with a 4xx."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz_fixtures import fuzz, fuzz_engine
from shoprec.serving.app import create_app


@pytest.fixture(scope="module")
def fuzz_app(serving_root: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return create_app(fuzz_engine(serving_root, tmp_path_factory.mktemp("fuzz")).engine)


def test_generated_requests_match_the_documented_schemas(fuzz_app) -> None:  # noqa: ANN001
    report = fuzz(fuzz_app, max_examples=8, seed=7)
    # every operation was exercised, in both modes
    assert report.requests >= 250, report.to_dict()
    assert report.by_mode["positive"] > 100 and report.by_mode["negative"] > 100
    assert report.server_errors == 0, report.to_dict()
    assert not report.failures, "\n".join(
        f"{k} x{n}: {report.examples[k][:300]}" for k, n in report.failures.items()
    )
    # valid requests were served, not only refused
    ok = sum(n for k, n in report.by_status.items() if k.endswith(" 200"))
    assert ok > 100, report.by_status


def test_the_error_answers_are_documented(fuzz_app) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    schema = TestClient(fuzz_app).get("/openapi.json").json()
    events = schema["paths"]["/v1/events"]["post"]["responses"]
    assert {"400", "401", "413", "422", "429"} <= set(events)
    error = events["422"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorOut")
    assert "404" in schema["paths"]["/v1/items/{item_id}"]["get"]["responses"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/v1/events",
            {"events": [{"user_id": "u", "item_id": "i", "type": "view", "timestamp": False}]},
            "timestamp",
        ),
        (
            "/v1/events",
            {"events": [{"user_id": "u", "item_id": "i", "type": "review", "rating": True}]},
            "rating",
        ),
        ("/v1/items", {"items": [{"item_id": "a", "price": True}]}, "price"),
        ("/v1/items", {"items": [{"item_id": "a", "in_stock": 1}]}, "in_stock"),
        ("/v1/audiences", {"category": "x", "n": True}, "n"),
    ],
)
def test_booleans_are_not_numbers(fuzz_app, path: str, body: dict, field: str) -> None:  # noqa: ANN001
    """Found by schemathesis: pydantic read ``false`` as 0 where the schema says number."""
    from fastapi.testclient import TestClient

    client = TestClient(fuzz_app)
    method = client.put if path == "/v1/items" else client.post
    r = method(path, json=body)
    assert r.status_code == 422 and field in r.json()["error"], r.text
