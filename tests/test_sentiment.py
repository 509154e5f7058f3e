"""Review sentiment: shapes and labels on tiny data, intensity in [0, 1] and monotone, pickle-free
save / load giving identical probabilities, empty texts; on the real review sets the two floors
(binary accuracy >= 0.90 on Multi-Domain, Alexa macro-F1 above VADER in the same run)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace

import numpy as np
import pytest

from conftest import ROOT, require_data
from shoprec.nlp.sentiment import (
    LABELS,
    CachedEncoder,
    FineTuneConfig,
    FineTunedSentiment,
    LayerEncoder,
    SentimentConfig,
    SentimentModel,
    SentimentResult,
    chunk_text,
    intensity,
    load_model,
    load_or_train,
    load_reviews,
    macro_f1,
    split_alexa,
    split_multidomain,
    vader_baseline,
)
from shoprec.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

POS_W = ["great", "love", "excellent", "perfect", "wonderful", "amazing"]
NEG_W = ["awful", "broken", "terrible", "waste", "refund", "useless"]
NEU_W = ["okay", "average", "fine", "decent", "ordinary", "acceptable"]


class HashEncoder:
    """A deterministic stand-in for the text encoder: hashed bag of words, unit rows."""

    def __init__(self, dim: int = 32) -> None:
        self.dim, self.calls = dim, 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _tiny(n: int = 60, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        y = i % 3
        words = [NEG_W, NEU_W, POS_W][y]
        texts.append(" ".join(rng.choice(words, 3).tolist() + ["the", "product"]))
        labels.append(y)
    return texts, np.array(labels)


_H = SentimentConfig(layers=None, blend=0.0)  # a hashed bag of words, one head
CONFIGS = {
    "lr": replace(_H, chunk_words=4, tfidf=False, nb=False, c=1.0),
    "lr+nb": replace(_H, chunk_words=4, tfidf_scale=1.0, c=1.0),
    "mlp": replace(_H, chunk_words=4, tfidf=False, nb=False, head="mlp"),
    "mlp+tfidf": replace(_H, tfidf_scale=1.0, nb=False, head="mlp", hidden=16),
    "lr+nb+blend": replace(_H, chunk_words=4, tfidf_scale=1.0, c=1.0, blend=0.3),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fit_predict_shapes_and_labels(name: str) -> None:
    texts, y = _tiny()
    model = SentimentModel(HashEncoder(), CONFIGS[name]).fit(texts, y)
    probs = model.predict_proba(texts)
    assert probs.shape == (len(texts), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    assert np.mean(probs.argmax(1) == y) >= (0.9 if CONFIGS[name].head == "lr" else 0.75)
    res = model.predict(["great love perfect the product", "awful waste refund the product"])
    assert all(isinstance(r, SentimentResult) and r.label in LABELS for r in res)
    assert [r.label for r in res] == ["positive", "negative"]
    assert all(0.0 <= r.intensity <= 1.0 and set(r.scores) == set(LABELS) for r in res)


def test_intensity_in_unit_interval_and_monotone() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=2000)
    s = intensity(p)
    assert s.min() >= 0.0 and s.max() <= 1.0
    lab = p.argmax(1)
    for src in range(3):  # move 10 % of another class's mass onto the predicted class
        q = p.copy()
        moved = 0.1 * q[np.arange(len(q)), src] * (src != lab)
        q[np.arange(len(q)), src] -= moved
        q[np.arange(len(q)), lab] += moved
        assert np.all(q.argmax(1) == lab)
        assert np.all(intensity(q) >= s - 1e-12)
    # a sure prediction is fully intense, a tie between the poles is not intense at all
    np.testing.assert_allclose(intensity(np.eye(3)), 1.0)
    assert intensity(np.array([[0.5, 0.0, 0.5]]))[0] == 0.0


@pytest.mark.parametrize("name", list(CONFIGS))
def test_save_load_round_trip_identical(tmp_path, name: str) -> None:
    texts, y = _tiny()
    model = SentimentModel(HashEncoder(), CONFIGS[name]).fit(texts, y)
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    again = SentimentModel.load(tmp_path / "m", HashEncoder())
    probe = texts + ["great but broken", "never seen words here", ""]
    assert np.array_equal(model.predict_proba(probe), again.predict_proba(probe))
    assert again.config == model.config


def test_blend_averages_the_two_heads_log_probabilities() -> None:
    texts, y = _tiny()
    cfg = CONFIGS["lr+nb+blend"]
    blended = SentimentModel(HashEncoder(), cfg).fit(texts, y)
    main = SentimentModel(HashEncoder(), replace(cfg, blend=0.0)).fit(texts, y)
    emb_cfg = replace(cfg, tfidf=False, c=cfg.blend_c, blend=0.0)
    emb = SentimentModel(HashEncoder(), emb_cfg).fit(texts, y)
    probe = texts[:5] + ["great but broken"]
    z = 0.7 * np.log(main.predict_proba(probe)) + 0.3 * np.log(emb.predict_proba(probe))
    want = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(blended.predict_proba(probe), want, rtol=1e-6, atol=1e-9)
    assert not np.allclose(blended.predict_proba(probe), main.predict_proba(probe))


def test_layer_encoder_runs_only_the_layers_it_pools() -> None:
    """Dropping the layers above the deepest pooled one leaves the pooled vectors unchanged."""
    texts = ["Great blender, loud though.", "Stopped working after a week. " * 8]
    shallow = LayerEncoder((2, 3))
    deep = LayerEncoder((2, 3, 6))
    assert len(shallow._model.encoder.layer) == 3 and len(deep._model.encoder.layer) == 6
    np.testing.assert_allclose(shallow.encode(texts), deep.encode(texts)[:, :768], atol=1e-5)


def test_load_or_train_uses_the_cached_model(tmp_path) -> None:
    texts, y = _tiny()
    model = SentimentModel(HashEncoder(), CONFIGS["lr+nb"]).fit(texts, y)
    model.save(tmp_path / "sentiment")
    cached = load_or_train(Settings(artifacts_dir=tmp_path), HashEncoder())
    assert np.array_equal(cached.predict_proba(texts), model.predict_proba(texts))


# -- fine-tuned MiniLM (smoke-sized: a few seconds on one thread) ------------------------------
_FT = FineTuneConfig(
    max_tokens=16, head_tokens=6, epochs=3, batch_size=8, lr=1e-4, head_lr=1e-2,
    blend=(0.0, 0.3), tfidf_c=1.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def finetuned() -> FineTunedSentiment:
    import torch

    torch.set_num_threads(1)
    texts, y = _tiny(24)
    return FineTunedSentiment(_FT).fit(texts, y, texts[:12], y[:12])


def test_finetune_reduces_loss_and_predicts(finetuned: FineTunedSentiment) -> None:
    losses = [h["loss"] for h in finetuned.history_]
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0]
    assert all("val_score" in h for h in finetuned.history_) and finetuned.blend_ in _FT.blend
    texts, y = _tiny(24)
    probs = finetuned.predict_proba(texts + ["", "  "])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(probs[-2:], [[0, 1, 0], [0, 1, 0]])
    assert np.mean(probs[:-2].argmax(1) == y) >= 0.9
    res = finetuned.predict(["great love perfect the product"])
    assert res[0].label in LABELS and 0.0 <= res[0].intensity <= 1.0


def test_finetune_keeps_head_and_tail_of_long_texts(finetuned: FineTunedSentiment) -> None:
    words = [f"w{i}" for i in range(40)]
    ids = finetuned._ids([" ".join(words), "great"])
    full = finetuned._tok(" ".join(words), add_special_tokens=False)["input_ids"]
    assert len(ids[0]) == _FT.max_tokens and len(ids[1]) == 3
    assert ids[0][1:7] == full[:6] and ids[0][7:-1] == full[-(_FT.max_tokens - 8) :]


def test_finetune_save_load_round_trip_identical(tmp_path, finetuned: FineTunedSentiment) -> None:
    from safetensors import safe_open

    finetuned.save(tmp_path / "sentiment")
    with safe_open(str(tmp_path / "sentiment" / "weights.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert not any(k.startswith("embeddings.") for k in keys)  # frozen: from the bundled model
    assert {"head.weight", "tfidf.w"} <= keys
    again = load_model(tmp_path / "sentiment", HashEncoder())
    assert isinstance(again, FineTunedSentiment) and again.config == finetuned.config
    probe = _tiny(24)[0] + ["great but broken", "never seen words here", ""]
    assert np.array_equal(finetuned.predict_proba(probe), again.predict_proba(probe))
    cached = load_or_train(Settings(artifacts_dir=tmp_path), HashEncoder())
    assert np.array_equal(cached.predict_proba(probe), finetuned.predict_proba(probe))


def test_load_model_reads_the_frozen_artifact_too(tmp_path) -> None:
    texts, y = _tiny()
    model = SentimentModel(HashEncoder(), CONFIGS["lr+nb"]).fit(texts, y)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m", HashEncoder())
    assert isinstance(again, SentimentModel)
    assert np.array_equal(again.predict_proba(texts), model.predict_proba(texts))
    with pytest.raises(ValueError, match="not fine-tuned"):
        FineTunedSentiment.load(tmp_path / "m")


def test_finetune_config_is_validated() -> None:
    with pytest.raises(ValueError):
        FineTuneConfig(max_tokens=16, head_tokens=15)
    with pytest.raises(ValueError):
        FineTuneConfig(class_weight="inverse")
    with pytest.raises(ValueError):
        FineTuneConfig(blend=(1.0,))


def test_empty_texts() -> None:
    texts, y = _tiny()
    model = SentimentModel(HashEncoder(), CONFIGS["lr+nb"]).fit(texts + ["", "  "], np.r_[y, 1, 1])
    probs = model.predict_proba(["", "   ", "great"])
    np.testing.assert_array_equal(probs[:2], [[0, 1, 0], [0, 1, 0]])
    assert model.predict_proba([]).shape == (0, 3)
    assert model.predict([""])[0].label == "neutral"
    with pytest.raises(RuntimeError):
        SentimentModel(HashEncoder()).predict_proba(["x"])


def test_chunks_cover_the_text_in_equal_pieces() -> None:
    words = [f"w{i}" for i in range(450)]
    pieces = chunk_text(" ".join(words), 200)
    assert len(pieces) == 3 and " ".join(pieces).split() == words
    assert {len(p.split()) for p in pieces} == {150}
    assert chunk_text("   ", 200) == [] and chunk_text("one two", 200) == ["one two"]


def test_long_text_is_averaged_over_pieces() -> None:
    enc = HashEncoder()
    model = SentimentModel(enc, CONFIGS["lr"])
    text = " ".join(["great"] * 5 + ["awful"] * 3)
    v = model.embed([text])[0]
    pieces = enc.encode(chunk_text(text, 4))
    want = pieces.sum(0) / np.linalg.norm(pieces.sum(0))
    np.testing.assert_allclose(v, want, rtol=1e-6)


def test_real_text_encoder_tiny() -> None:
    """The model takes the project's TextEncoder as is (sentence vectors, no layers)."""
    from shoprec.text.encoder import TextEncoder

    texts, y = _tiny(30)
    cfg = SentimentConfig(layers=None, tfidf=False, nb=False, c=10.0)
    model = SentimentModel(TextEncoder(), cfg).fit(texts, y)
    assert model.predict_proba(texts).shape == (30, 3)
    assert model.predict(["I love it, excellent"])[0].label == "positive"


# -- real data ----------------------------------------------------------------------------------
def _review_settings() -> Settings:
    settings = require_data()
    if not (settings.data_dir / "reviews" / "amazon_alexa.tsv").is_file():
        reason = f"reviews/ not found under {settings.data_dir}"
        if settings.require_data:
            pytest.fail(f"SHOPREC_REQUIRE_DATA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return Settings(data_dir=settings.data_dir, artifacts_dir=ROOT / "artifacts")


def test_splits_are_stratified_and_disjoint() -> None:
    settings = _review_settings()
    md, alexa = load_reviews(settings)
    assert len(md) == 6000 and set(md["y"]) == {0, 2} and set(alexa["y"]) == {0, 1, 2}
    train, test = split_multidomain(md)
    assert len(test) == 1200
    assert (test.groupby(["domain", "y"]).size() == 200).all()
    a_train, a_test = split_alexa(alexa)
    norm = lambda f: set(f["text"].str.lower().str.split().str.join(" "))  # noqa: E731
    assert not norm(a_train) & norm(a_test)
    share = a_test["y"].value_counts(normalize=True) - alexa["y"].value_counts(normalize=True)
    assert share.abs().max() < 0.01


@pytest.mark.slow
def test_alexa_beats_vader_on_held_out_reviews() -> None:
    """Three-class macro-F1 of the default configuration, trained on the Alexa training part,
    above VADER's (cuts chosen on the same part) on the held-out Alexa part. The floor test below
    checks this in the full run; it runs here on its own because that one is not run while its
    multi-domain bar is unmet. Encodes about 2,800 short pieces (vectors cached in artifacts/)."""
    settings = _review_settings()
    _, alexa = load_reviews(settings)
    train, test = split_alexa(alexa, seed=settings.seed)
    cfg = SentimentConfig()
    cache = settings.artifacts_dir / "sentiment_layers.npz"  # shared with train_default
    model = SentimentModel(CachedEncoder(LayerEncoder(cfg.layers), cache), cfg)
    model.fit(train["text"].tolist(), train["y"].to_numpy())
    f1 = macro_f1(test["y"].to_numpy(), model.predict_proba(test["text"].tolist()).argmax(1))
    vader = vader_baseline(None, [train, test])["alexa"]["macro_f1"]
    print(f"alexa macro-F1 {f1:.4f} (VADER {vader:.4f})")
    assert f1 > vader


@pytest.mark.slow
def test_floors_on_real_reviews() -> None:
    """Binary accuracy >= 0.90 on the held-out Multi-Domain part; Alexa macro-F1 above VADER's
    in the same run. Training the model is a fine-tuning run of about an hour on one CPU thread
    (``shoprec train-sentiment`` or ``bench/sentiment_eval.py``), too long for CI: this checks
    the held-out figures saved with the model in ``artifacts/sentiment/report.json`` and
    re-scores the held-out parts with the saved model (about a minute) to check that they are
    its figures. Skips when no trained model is there."""
    import json

    import torch

    from shoprec.nlp.sentiment import evaluate

    settings = _review_settings()
    path = settings.artifacts_dir / "sentiment"
    if not (path / "report.json").is_file():
        pytest.skip(f"no trained model with a report in {path} (run shoprec train-sentiment)")
    report = json.loads((path / "report.json").read_text())
    torch.set_num_threads(1)
    model = load_model(path, HashEncoder())  # a frozen-layer model builds its own LayerEncoder
    md, alexa = load_reviews(settings)
    seed = settings.seed
    (_, md_test), (_, al_test) = split_multidomain(md, seed=seed), split_alexa(alexa, seed=seed)
    t0 = time.perf_counter()
    probs = [model.predict_proba(f["text"].tolist()) for f in (md_test, al_test)]
    now = evaluate(probs[0], md_test["y"].to_numpy(), probs[1], al_test["y"].to_numpy())
    md_now, al_now, vader = now["multidomain"], now["alexa"], report["vader"]
    print(
        f"{report['chosen']}: multidomain accuracy {md_now['accuracy']:.4f} "
        f"(VADER {vader['multidomain']['accuracy']:.4f}); alexa macro-F1 "
        f"{al_now['macro_f1']:.4f} (VADER {vader['alexa']['macro_f1']:.4f}); "
        f"{time.perf_counter() - t0:.0f} s"
    )
    saved = report["test"]
    assert abs(md_now["accuracy"] - saved["multidomain"]["accuracy"]) <= 2 / len(md_test)
    assert abs(al_now["macro_f1"] - saved["alexa"]["macro_f1"]) <= 0.01
    assert al_now["macro_f1"] > vader["alexa"]["macro_f1"]
    assert md_now["accuracy"] >= 0.90
