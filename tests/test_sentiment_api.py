"""Review sentiment through the app factory: ``POST /v1/sentiment``, ``GET
/v1/items/{id}/sentiment`` and review events scored on arrival, on a real engine (embedded
store) whose sentiment model is the real one (frozen sentence encoder + NB-TF-IDF head), trained
on the synthetic shop's own reviews so that no public data is needed. Bad input gets a 422 that
names the field, never a 5xx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from serving_fixtures import synthetic_settings
from shoprec.data.synthetic import generate
from shoprec.nlp.sentiment import ARTIFACT, LABELS, SentimentConfig, SentimentModel
from shoprec.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GOOD = "I love this serum, excellent quality for the price. I would buy it again."
BAD = "Very disappointed with this cream. A waste of money, I am returning it."


@pytest.fixture(scope="module")
def sentiment_client(serving_root: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The synthetic shop's engine (models reused from the session's ``serving_root``) with a
    sentiment model trained here and found where ``shoprec train-sentiment`` saves it."""
    from shoprec.data.datasets import load_dataset
    from shoprec.serving.app import create_app
    from shoprec.serving.build import build_engine
    from shoprec.text.encoder import TextEncoder

    reviews = [r for r in generate().reviews if r.text and r.rating is not None]
    ratings = np.array([r.rating for r in reviews])
    labels = np.where(ratings < 2.5, 0, np.where(ratings < 3.5, 1, 2))
    config = SentimentConfig(layers=None, chunk_words=180, c=1.0, tfidf_scale=10.0)
    model = SentimentModel(TextEncoder(), config).fit([r.text for r in reviews], labels)
    art = tmp_path_factory.mktemp("sentiment_art")
    model.save(art / ARTIFACT)
    settings = synthetic_settings(serving_root)
    built = build_engine(
        load_dataset("synthetic", settings),
        settings,
        store=tmp_path_factory.mktemp("sentiment_store"),
        quick=True,
        train_seconds=20,
        progress=False,
        import_history=False,  # the routes under test need the catalog, not past purchases
        sentiment_settings=Settings(artifacts_dir=art),
    )
    return TestClient(create_app(built.engine))


def test_score_texts(sentiment_client: TestClient) -> None:
    r = sentiment_client.post("/v1/sentiment", json={"texts": [GOOD, BAD, ""]})
    assert r.status_code == 200, r.text
    good, bad, empty = r.json()["results"]
    assert (good["label"], bad["label"], empty["label"]) == ("positive", "negative", "neutral")
    for res in (good, bad, empty):
        assert set(res["scores"]) == set(LABELS) and 0.0 <= res["intensity"] <= 1.0
        assert abs(sum(res["scores"].values()) - 1.0) < 1e-6
    assert good["scores"]["positive"] > 0.5 and bad["scores"]["negative"] > 0.5


def _summary(client: TestClient, item: str) -> dict:
    r = client.get(f"/v1/items/{item}/sentiment")
    assert r.status_code == 200, r.text
    return r.json()


def _review(client: TestClient, user: str, item: str, text: str, ts: float) -> None:
    ev = {"user_id": user, "item_id": item, "type": "review", "text": text, "rating": 3,
          "timestamp": ts, "event_id": f"{user}-{item}-{ts:.0f}"}  # fmt: skip
    r = client.post("/v1/events", json={"events": [ev]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def test_review_events_are_scored_on_arrival(sentiment_client: TestClient) -> None:
    item = "P00011"
    before = _summary(sentiment_client, item)
    t0 = 1.75e9
    _review(sentiment_client, "sent-a", item, BAD, t0)
    after_bad = _summary(sentiment_client, item)
    assert after_bad["count"] == before["count"] + 1
    if before["count"]:
        assert after_bad["negative"] > before["negative"]
    else:
        assert after_bad["negative"] == pytest.approx(1.0)
    _review(sentiment_client, "sent-b", item, GOOD, t0 + 86400)
    after = _summary(sentiment_client, item)
    assert after["count"] == before["count"] + 2
    assert abs(after["negative"] + after["neutral"] + after["positive"] - 1.0) < 1e-6
    assert 0.0 <= after["mean_intensity"] <= 1.0 and sum(w["count"] for w in after["trend"]) == 2
    assert after["highlight"] and any(after["highlight"] in t for t in (GOOD, BAD))
    # the same event again is a duplicate: not scored twice
    ev = {"user_id": "sent-b", "item_id": item, "type": "review", "text": GOOD, "rating": 3,
          "timestamp": t0 + 86400, "event_id": f"sent-b-{item}-{t0 + 86400:.0f}"}  # fmt: skip
    assert sentiment_client.post("/v1/events", json={"events": [ev]}).json()["duplicates"] == 1
    assert _summary(sentiment_client, item)["count"] == after["count"]


def test_item_without_reviews_and_unknown_item(sentiment_client: TestClient) -> None:
    empty = _summary(sentiment_client, "P00012")
    assert empty["count"] == 0 and empty["trend"] == [] and empty["highlight"] is None
    r = sentiment_client.get("/v1/items/no-such-item/sentiment")
    assert r.status_code == 404 and "item_id" in r.json()["error"]


BAD_BODIES = [
    ({"texts": []}, "texts"),
    ({}, "texts"),
    ({"texts": "just one string"}, "texts"),
    ({"texts": [GOOD, 5]}, "texts.1"),
    ({"texts": [None]}, "texts.0"),
    ({"texts": [GOOD] * 101}, "texts"),
    ({"texts": ["x" * 20_001]}, "texts.0"),
    ({"texts": [GOOD], "lang": "en"}, "lang"),
    ([GOOD], "body"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_BODIES)
def test_bad_sentiment_requests_name_the_field(
    sentiment_client: TestClient, body: object, needle: str
) -> None:
    r = sentiment_client.post("/v1/sentiment", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert needle in err["error"] or any(
        needle in e["field"] or needle in e["message"] for e in err["errors"]
    ), r.text


def test_bad_item_id_is_a_4xx(sentiment_client: TestClient) -> None:
    r = sentiment_client.get(f"/v1/items/{'x' * 300}/sentiment")
    assert r.status_code == 422 and "item_id" in r.text


def test_serving_loads_a_fine_tuned_artifact(tmp_path: Path) -> None:
    """``sentiment_model`` (what the engine calls) loads whichever type train-sentiment saved:
    here a smoke-sized fine-tuned MiniLM; a batch of texts scores in well under a second."""
    import time
    from types import SimpleNamespace

    import torch

    from shoprec.nlp.sentiment import FineTuneConfig, FineTunedSentiment
    from shoprec.serving.build import sentiment_model

    torch.set_num_threads(1)
    texts = [GOOD, BAD, "It is okay, average quality, nothing special."] * 4
    y = np.array([2, 0, 1] * 4)
    cfg = FineTuneConfig(max_tokens=32, head_tokens=8, epochs=2, batch_size=6, head_lr=1e-2)
    FineTunedSentiment(cfg).fit(texts, y).save(tmp_path / ARTIFACT)
    model = sentiment_model(Settings(artifacts_dir=tmp_path), SimpleNamespace(encoder=None))
    assert isinstance(model, FineTunedSentiment)
    model.predict([GOOD])  # first call warms up
    t0 = time.perf_counter()
    res = model.predict([GOOD, BAD, "", "Fine I guess."])
    assert time.perf_counter() - t0 < 1.0
    assert [r.label for r in res][2] == "neutral" and all(r.label in LABELS for r in res)
