"""The quick sentiment model and how a server serves and switches review sentiment: trained on
tiny review files written here (the public files' format), cached and reused by data hash, said
plainly unavailable without review files (503 body), and switched to a published fine-tuned
model while requests are answered, none failing, every stored review rescored."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shoprec.data.records import Event, EventType, Item
from shoprec.nlp.sentiment.quick import (
    QuickSentiment,
    SentimentUnavailable,
    load_or_train_quick,
)
from shoprec.serving.engine import Engine
from shoprec.serving.sentiment import SentimentSource
from shoprec.settings import Settings
from shoprec.store import MemoryStateStore, open_embedded

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GOOD = ["love it, excellent quality", "great value, works perfectly", "wonderful, would buy again"]
BAD = ["broken after a day, awful", "terrible, a waste of money", "useless, returned it"]
MEH = ["it is okay, average", "fine I guess, nothing special", "decent but ordinary"]


def _write_reviews(data: Path, n: int = 40) -> None:
    """Review files in the public sets' format: multi-domain (binary) and Alexa (ratings)."""
    rng = np.random.default_rng(0)
    (data / "reviews").mkdir(parents=True)
    rows = [
        {"domain": d, "label": lab, "title": "", "review_text": f"{rng.choice(src)} item {k}"}
        for d in ("books", "kitchen")
        for lab, src in (("positive", GOOD), ("negative", BAD))
        for k in range(n)
    ]
    pd.DataFrame(rows).to_csv(data / "reviews" / "multidomain_reviews.csv", index=False)
    alexa = [
        {"rating": r, "verified_reviews": f"{rng.choice(src)} echo {k}"}
        for r, src in ((5, GOOD), (1, BAD), (3, MEH))
        for k in range(n)
    ]
    pd.DataFrame(alexa).to_csv(data / "reviews" / "amazon_alexa.tsv", sep="\t", index=False)


@pytest.fixture()
def shop(tmp_path: Path) -> Settings:
    _write_reviews(tmp_path / "data")
    return Settings(data_dir=tmp_path / "data", artifacts_dir=tmp_path / "artifacts")


def test_quick_model_trains_caches_and_round_trips(shop: Settings) -> None:
    model = load_or_train_quick(shop)
    labels = [r.label for r in model.predict([GOOD[0], BAD[1], MEH[2] + " echo", ""])]
    assert labels[:2] == ["positive", "negative"] and labels[3] == "neutral"
    meta = model.meta
    assert meta["version"].startswith(meta["data_hash"]) and meta["train_s"] < 30
    again = load_or_train_quick(shop)  # reused, not retrained
    assert again.version == model.version
    texts = GOOD + BAD + MEH
    assert np.array_equal(again.predict_proba(texts), model.predict_proba(texts))
    with np.load(shop.artifacts_dir / "sentiment-quick" / "arrays.npz") as z:
        assert all(z[k].dtype != object for k in z.files)
    # new review files: a new data hash, so the cache is retrained
    (shop.data_dir / "reviews" / "amazon_alexa.tsv").open("a").write("5\tgreat echo extra\n")
    assert load_or_train_quick(shop).meta["data_hash"] != meta["data_hash"]


def _engine(tmp: Path, source: SentimentSource) -> Engine:
    log, items = open_embedded(tmp / "store")
    return Engine(
        log,
        items,
        MemoryStateStore(),
        vectorize=lambda texts: np.zeros((len(texts), 384), np.float32),
        sentiment=source.load,
    )


def test_without_review_files_the_503_says_why(tmp_path: Path) -> None:
    from shoprec.serving.app import create_app

    settings = Settings(data_dir=tmp_path / "nothing", artifacts_dir=tmp_path / "artifacts")
    with pytest.raises(SentimentUnavailable, match="multidomain_reviews.csv"):
        load_or_train_quick(settings)
    source = SentimentSource(settings)
    assert source.prepare() is None and "amazon_alexa.tsv" in source.describe(None)
    client = TestClient(create_app(_engine(tmp_path, source)))
    r = client.post("/v1/sentiment", json={"texts": [GOOD[0]]})
    assert r.status_code == 503 and r.headers["retry-after"] == "60"
    assert "unavailable" in r.json()["error"] and "multidomain_reviews.csv" in r.json()["error"]


def test_quick_server_switches_to_published_fine_tuned_model(
    shop: Settings, tmp_path: Path
) -> None:
    """Served by the quick model; ``train-sentiment`` publishes a (tiny) fine-tuned one; the
    watcher switches while requests run: none fails, answers name the model, reviews rescored."""
    from shoprec.nlp.sentiment import FineTuneConfig, FineTunedSentiment, save_model
    from shoprec.serving.app import create_app

    source = SentimentSource(shop)
    assert source.prepare() is not None
    engine = _engine(tmp_path, source)
    client = TestClient(create_app(engine))
    item = "P1"
    engine.upsert_items([Item(item, title="A kettle")])
    reviews = [
        Event(f"u{k}", item, EventType.REVIEW, 1e9 + k, f"r{k}", text=t)
        for k, t in enumerate(GOOD + BAD)
    ]
    engine.ingest(reviews)
    first = client.get(f"/v1/items/{item}/sentiment").json()
    assert first["model"] == "quick" and first["count"] == 6
    watcher = source.watch(engine, interval=3600)  # driven by hand below
    watcher.stop()
    seen: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            r = client.post("/v1/sentiment", json={"texts": [GOOD[0], BAD[0]]})
            if r.status_code != 200 or len(r.json()["results"]) != 2:
                errors.append(r.text)
            else:
                seen.append(r.json()["model"])

    t = threading.Thread(target=load)
    t.start()
    try:
        cfg = FineTuneConfig(max_tokens=32, head_tokens=8, epochs=1, batch_size=6, head_lr=1e-2)
        texts = (GOOD + BAD + MEH) * 2
        y = np.array(([2] * 3 + [0] * 3 + [1] * 3) * 2)
        save_model(FineTunedSentiment(cfg).fit(texts, y), None, shop.artifacts_dir / "sentiment")
        assert watcher.check()  # the publication is noticed and installed
        assert not watcher.check()
        after = len(seen)
        while len(seen) < after + 3 and not errors:
            stop.wait(0.05)
    finally:
        stop.set()
        t.join()
    assert errors == [] and seen[0] == "quick" and seen[-1] == "fine-tuned"
    switched = seen.index("fine-tuned")
    assert set(seen[switched:]) == {"fine-tuned"}  # never back to the quick model
    now = client.get(f"/v1/items/{item}/sentiment").json()
    assert now["model"] == "fine-tuned" and now["count"] == 6  # rescored, none lost or doubled
    assert now["model_version"] != first["model_version"]
    assert isinstance(engine.sentiment_model(), FineTunedSentiment)
    assert not isinstance(engine.sentiment_model(), QuickSentiment)
