"""Training on the review sets: variants compared on validation, the chosen one refit on the
training parts and measured on the held-out parts beside VADER; the cached model for serving."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd

from shoprec.nlp.sentiment.config import SentimentConfig
from shoprec.nlp.sentiment.data import load_reviews, split_alexa, split_multidomain
from shoprec.nlp.sentiment.evaluate import evaluate, vader_baseline
from shoprec.nlp.sentiment.features import CachedEncoder, Encoder, LayerEncoder
from shoprec.nlp.sentiment.finetune import FINETUNE_ARTIFACT, FineTuneConfig, FineTunedSentiment
from shoprec.nlp.sentiment.model import ARTIFACT, SentimentModel, _named
from shoprec.settings import Settings

log = logging.getLogger(__name__)

_S = SentimentConfig(layers=None, chunk_words=180, tfidf=False, nb=False, blend=0.0)
_L = replace(SentimentConfig(), blend=0.0)  # layers 2-5, one head
VARIANTS: tuple[tuple[str, SentimentConfig], ...] = (
    ("sentence vec + LR", _S),
    ("sentence vec + MLP", replace(_S, head="mlp")),
    ("sentence vec + TF-IDF", replace(_S, tfidf=True, c=1.0, tfidf_scale=30.0)),
    ("sentence vec + NB-TF-IDF", replace(_S, tfidf=True, nb=True)),
    ("layers 2-5 + LR", replace(_L, tfidf=False, nb=False, c=0.03)),
    ("layers 2-5 + MLP", replace(_L, tfidf=False, nb=False, head="mlp")),
    ("layers 2-5 + NB-TF-IDF, C=0.03", replace(_L, c=0.03)),
    ("layers 2-5 + NB-TF-IDF", _L),
    ("layers 2-5 + NB-TF-IDF, blend 0.3 with LR on layers", replace(_L, blend=0.3)),
)
"""(name, config) pairs of the frozen-encoder heads (``bench/sentiment_eval.py --frozen``)."""

FINETUNE_VARIANTS: tuple[tuple[str, FineTuneConfig], ...] = (
    ("fine-tuned MiniLM, lr 5e-5", FineTuneConfig(lr=5e-5)),
    ("fine-tuned MiniLM, lr 1e-4", FineTuneConfig(lr=1e-4)),
)
"""Fine-tuned variants compared on validation (each about 30 minutes on one CPU thread)."""

DEFAULT_VARIANTS: tuple[tuple[str, FineTuneConfig], ...] = (
    ("fine-tuned MiniLM", FineTuneConfig()),
)
"""What :func:`train_default` (``shoprec train-sentiment``) trains: the chosen variant."""

Config: TypeAlias = SentimentConfig | FineTuneConfig
Model: TypeAlias = SentimentModel | FineTunedSentiment


def _fit_eval(
    encoder: Encoder,
    cfg: Config,
    train: Sequence[pd.DataFrame],
    test: Sequence[pd.DataFrame],
    val: Sequence[pd.DataFrame] | None = None,
    bar: float = -1.0,
) -> tuple[Model, dict[str, Any]]:
    """Fit on the concatenated ``train`` frames; report on ``test`` = (multidomain, alexa).

    A fine-tuned variant keeps the epoch and blend weight whose :func:`_val_key` on ``val``
    (multidomain, alexa) is best."""
    texts = [t for f in train for t in f["text"]]
    y = np.concatenate([f["y"].to_numpy() for f in train])
    t0 = time.perf_counter()
    model: Model
    if isinstance(cfg, FineTuneConfig):
        model = FineTunedSentiment(cfg)
        if val is None:
            model.fit(texts, y)
        else:
            n_md, y_md, y_al = len(val[0]), val[0]["y"].to_numpy(), val[1]["y"].to_numpy()
            score = lambda p: _val_key(evaluate(p[:n_md], y_md, p[n_md:], y_al), bar)  # noqa: E731
            val_texts = [t for f in val for t in f["text"]]
            model.fit(texts, y, val_texts, np.concatenate([y_md, y_al]), score)
        extra = {"history": model.history_, "blend": model.blend_}
    else:
        model, extra = SentimentModel(encoder, cfg).fit(texts, y), {}
    fit_s = time.perf_counter() - t0
    return model, {**_scored(model, test), "fit_s": fit_s, **extra}


def _scored(model: Model, parts: Sequence[pd.DataFrame]) -> dict[str, Any]:
    """:func:`evaluate` of ``model`` on ``parts`` = (multidomain, alexa)."""
    probs = [model.predict_proba(f["text"].tolist()) for f in parts]
    return evaluate(probs[0], parts[0]["y"].to_numpy(), probs[1], parts[1]["y"].to_numpy())


def _val_key(report: dict[str, Any], bar: float) -> float:
    """One number for choices on validation: multidomain accuracy when the Alexa macro-F1 beats
    ``bar`` (VADER's), else the mean of the two minus one (always below)."""
    acc, f1 = report["multidomain"]["accuracy"], report["alexa"]["macro_f1"]
    return acc if f1 > bar else (acc + f1) / 2 - 1.0


def train_default(
    settings: Settings,
    encoder: Encoder,
    variants: Sequence[tuple[str, Config]] | None = None,
    vader: bool = True,
) -> tuple[Model, dict[str, Any]]:
    """Choose a variant on validation, refit it on the training parts, report on held-out parts.

    Held out: 20 % of the multi-domain set (stratified by domain and label) and 20 % of the
    distinct Alexa texts (stratified by class), seed ``settings.seed``. Validation: 20 % carved
    the same way from each training part. Each of ``variants`` (default :data:`DEFAULT_VARIANTS`)
    is fit on training minus validation; the chosen one has the best binary accuracy
    (multi-domain) among those whose Alexa macro-F1 beats VADER's on validation (else the best
    mean of the two). A frozen-encoder variant is then refit on the whole training parts; a
    fine-tuned one is kept as trained on the fit parts (its epoch and blend weight were chosen
    on validation, and a refit would double its ~30 minutes). ``encoder`` (the sentence encoder)
    serves the ``layers=None`` variants; frozen vectors are cached by content hash under
    ``settings.artifacts_dir`` (``sentiment_vectors.npz``, ``sentiment_layers.npz``).

    Returns
    -------
    The chosen model and a report: split sizes, the variants' validation figures, the chosen one,
    held-out figures, the VADER baseline (cuts chosen on the training parts) and seconds.
    """
    t_start, seed, art = time.perf_counter(), settings.seed, Path(settings.artifacts_dir)
    md, alexa = load_reviews(settings)
    md_train, md_test = split_multidomain(md, seed=seed)
    al_train, al_test = split_alexa(alexa, seed=seed)
    md_fit, md_val = split_multidomain(md_train, seed=seed)
    al_fit, al_val = split_alexa(al_train, seed=seed)
    parts = {"multidomain_train": md_train, "multidomain_test": md_test, "alexa_train": al_train,
             "alexa_test": al_test, "multidomain_fit": md_fit, "multidomain_val": md_val,
             "alexa_fit": al_fit, "alexa_val": al_val}  # fmt: skip
    report: dict[str, Any] = {
        "sizes": {k: _named(np.bincount(f["y"], minlength=3).tolist()) for k, f in parts.items()},
        "alexa_rows_before_dedup": int(alexa["copies"].sum()),
        "variants": [],
    }
    variants = list(variants or DEFAULT_VARIANTS)
    encoders: dict[Any, Encoder] = {}
    frozen = [cfg for _, cfg in variants if isinstance(cfg, SentimentConfig)]
    for layers in {cfg.layers for cfg in frozen}:
        raw = encoder if layers is None else LayerEncoder(layers)
        name = "sentiment_vectors.npz" if layers is None else "sentiment_layers.npz"
        encoders[layers] = CachedEncoder(raw, art / name)
    t0 = time.perf_counter()
    for cfg in frozen:  # encode every piece once (cached across runs)
        SentimentModel(encoders[cfg.layers], cfg).embed(pd.concat([md, alexa])["text"].tolist())
    report["encode_s"] = time.perf_counter() - t0
    bar = -1.0
    if vader:  # the floor on Alexa, measured on validation with cuts chosen on the fit parts
        report["vader_val"] = vader_baseline([md_fit, md_val], [al_fit, al_val])
        bar = report["vader_val"]["alexa"]["macro_f1"]
    best: tuple[float, str, Config, Model] | None = None
    for name, variant in variants:
        enc = encoders.get(getattr(variant, "layers", None), encoder)
        model, val = _fit_eval(
            enc, variant, [md_fit, al_fit], [md_val, al_val], [md_val, al_val], bar
        )
        acc, f1 = val["multidomain"]["accuracy"], val["alexa"]["macro_f1"]
        log.info("variant %-32s val accuracy %.4f  alexa macro-F1 %.4f", name, acc, f1)
        row: dict[str, Any] = {"name": name, "config": asdict(variant), "val_accuracy": acc,
                               "val_alexa_macro_f1": f1, "fit_s": val["fit_s"]}  # fmt: skip
        extra: dict[str, Any] = {k: val[k] for k in ("history", "blend") if k in val}
        report["variants"].append(row | extra)
        if best is None or _val_key(val, bar) > best[0]:
            best = (_val_key(val, bar), name, variant, model)
    assert best is not None
    report["chosen"] = best[1]
    if isinstance(best[2], FineTuneConfig):
        model = best[3]
        report["test"] = _scored(model, [md_test, al_test])
    else:
        cached = encoders[best[2].layers]
        model, report["test"] = _fit_eval(cached, best[2], [md_train, al_train], [md_test, al_test])
        cast(SentimentModel, model).encoder = cast(CachedEncoder, cached).encoder
    if vader:
        t0 = time.perf_counter()
        report["vader"] = vader_baseline([md_train, md_test], [al_train, al_test])
        report["vader_s"] = time.perf_counter() - t0
    report["seconds"] = time.perf_counter() - t_start
    return model, report


def load_model(path: Path, encoder: Encoder) -> Model:
    """The sentiment model saved in ``path``, of either type (the manifest names it)."""
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    if manifest.get("model") == FINETUNE_ARTIFACT:
        return FineTunedSentiment.load(path)
    return SentimentModel.load(path, encoder)


def save_model(model: Model, report: dict[str, Any] | None, path: Path) -> None:
    """Save ``model`` (and ``report.json``) to ``path``, removing the other type's weights."""
    model.save(path)
    other = "arrays.npz" if isinstance(model, FineTunedSentiment) else "weights.safetensors"
    (Path(path) / other).unlink(missing_ok=True)
    if report is not None:
        (Path(path) / "report.json").write_text(json.dumps(report, indent=2))


def load_or_train(settings: Settings, encoder: Encoder) -> Model:
    """The model cached under ``settings.artifacts_dir / "sentiment"``; trained when missing."""
    path = Path(settings.artifacts_dir) / ARTIFACT
    if (path / "manifest.json").is_file():
        return load_model(path, encoder)
    model, report = train_default(settings, encoder)
    save_model(model, report, path)
    log.info("sentiment model (%s) trained and saved to %s", report["chosen"], path)
    return model
