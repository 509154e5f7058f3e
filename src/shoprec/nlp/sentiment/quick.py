"""The quick sentiment model: a naive-Bayes TF-IDF logistic regression (the head the fine-tuned
model blends with, alone) trained in seconds on the public review sets, so that a server has
review sentiment from its first start, before ``shoprec train-sentiment`` has run.

It trains on the training parts of the held-out split :func:`train_default` uses (seed
``settings.seed``), so its figures on the held-out parts are comparable with the fine-tuned
model's and VADER's (``bench/sentiment_eval.py``). The artifact (``artifacts/sentiment-quick``)
is reused while the review files are unchanged: its version is the files' content hash plus the
training time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np

from shoprec.models.artifacts import read_arrays, write_arrays
from shoprec.nlp.sentiment.model import (
    LABELS,
    NEU,
    SentimentResult,
    _log_softmax,
    _three_slots,
    class_weights,
    results,
    tfidf_arrays,
)
from shoprec.settings import Settings

log = logging.getLogger(__name__)

QUICK_ARTIFACT = "sentiment_quick"
"""The ``model`` name in the quick artifact's manifest."""
QUICK_DIR = "sentiment-quick"
"""The quick artifact's folder under ``settings.artifacts_dir``."""
REVIEW_FILES = ("multidomain_reviews.csv", "amazon_alexa.tsv")


class SentimentUnavailable(RuntimeError):
    """No sentiment model can be served; the message says why (it reaches the 503 body)."""


@dataclass(frozen=True)
class QuickConfig:
    """Hyper-parameters of :class:`QuickSentiment`.

    Chosen on the validation parts (20 % of each training part) among NB power {0.5, 1},
    ``c`` {3, 10, 30}, class weights {sqrt, balanced} and binary or sublinear tf: the best
    mean of multi-domain accuracy and Alexa macro-F1.

    Parameters
    ----------
    ngram_max : longest word n-gram.
    min_df : documents a term must appear in (drops the long tail: 4x fewer terms, faster).
    nb_power : exponent of each term's naive-Bayes log-count ratio, sign kept (1 = NB-LR).
    c : inverse L2 strength of the logistic regression.
    class_weight : ``"balanced"``, ``"sqrt"`` or ``"none"`` (neutral is rare: Alexa only).
    """

    ngram_max: int = 2
    min_df: int = 2
    nb_power: float = 1.0
    c: float = 10.0
    class_weight: str = "balanced"


class QuickSentiment:
    """Three-class review sentiment from NB-weighted TF-IDF word n-grams (numpy at predict).

    Same prediction API as the other sentiment models (``predict_proba``, ``predict``, ``save``,
    ``load``); ``meta`` holds what the manifest records (version, data hash, seconds, figures).
    """

    def __init__(self, config: QuickConfig | None = None) -> None:
        self.config = config or QuickConfig()
        self.arrays: dict[str, np.ndarray] = {}
        self.meta: dict[str, Any] = {}
        self._vectorizer: Any = None

    def _vectorizer_for(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        cfg = self.config
        return TfidfVectorizer(
            ngram_range=(1, cfg.ngram_max),
            sublinear_tf=True,
            min_df=cfg.min_df if vocabulary is None else 1,
            vocabulary=vocabulary,
        )

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> Self:
        """Train on ``texts`` with ``labels`` in {0, 1, 2} (negative, neutral, positive)."""
        from sklearn.linear_model import LogisticRegression

        cfg, y = self.config, np.asarray(labels, dtype=np.int64)
        texts = [t or "" for t in texts]
        self._vectorizer = self._vectorizer_for()
        tf = self._vectorizer.fit_transform(texts)
        arrays = tfidf_arrays(self._vectorizer, tf, y)
        nb = np.sign(arrays["nb"]) * np.abs(arrays["nb"]) ** cfg.nb_power
        weight = class_weights(y, cfg.class_weight)[y]
        # newton-cg: a handful of iterations here, where lbfgs needs seconds more
        lr = LogisticRegression(C=cfg.c, solver="newton-cg", max_iter=200)
        lr.fit(tf.multiply(nb).tocsr(), y, sample_weight=weight)
        w, b = _three_slots(lr.classes_, lr.coef_.T, lr.intercept_)
        self.arrays = {"terms": arrays["terms"], "idf": arrays["idf"], "nb": nb, "w": w, "b": b}
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, 3)`` probabilities; empty or whitespace-only texts get ``(0, 1, 0)``."""
        if "w" not in self.arrays:
            raise RuntimeError("QuickSentiment is not fitted")
        texts = [t or "" for t in texts]
        out = np.tile(np.eye(len(LABELS))[NEU], (len(texts), 1))
        real = [i for i, t in enumerate(texts) if t.strip()]
        if real:
            tf = self._vectorizer.transform([texts[i] for i in real])
            h = np.asarray(tf.multiply(self.arrays["nb"]).tocsr() @ self.arrays["w"])
            out[real] = np.exp(_log_softmax(h + self.arrays["b"]))
        return out

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Label, intensity and class probabilities of each text."""
        return results(self.predict_proba(texts))

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unsaved"))

    def save(self, path: Path) -> None:
        """``arrays.npz`` (no pickle) and ``manifest.json`` (config, then ``meta.json``)."""
        path = Path(path)
        write_arrays(path, QUICK_ARTIFACT, asdict(self.config), self.arrays)
        manifest = json.loads((path / "manifest.json").read_text())
        (path / "manifest.json").write_text(json.dumps({**manifest, **self.meta}, indent=2))

    @classmethod
    def load(cls, path: Path) -> QuickSentiment:
        """Inverse of :meth:`save`."""
        manifest, arrays = read_arrays(Path(path), QUICK_ARTIFACT)
        model = cls(QuickConfig(**manifest["config"]))
        model.arrays = arrays
        model.meta = {k: v for k, v in manifest.items() if k not in ("model", "format", "config")}
        words = arrays["terms"].tobytes().decode("utf-8").split("\n")
        model._vectorizer = model._vectorizer_for({t: i for i, t in enumerate(words)})
        model._vectorizer.idf_ = arrays["idf"]
        return model


def review_data_hash(settings: Settings) -> str:
    """SHA-256 (first 12 hex digits) of the public review files, or :class:`SentimentUnavailable`
    naming what is missing."""
    root = Path(settings.data_dir) / "reviews"
    missing = [name for name in REVIEW_FILES if not (root / name).is_file()]
    if missing:
        raise SentimentUnavailable(
            f"the quick sentiment model trains on the public review sets, and {', '.join(missing)}"
            f" is not in {root.resolve()} (set SHOPREC_DATA_DIR to the data folder)"
        )
    digest = hashlib.sha256()
    for name in REVIEW_FILES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:12]


def train_quick(
    settings: Settings, config: QuickConfig | None = None, limit: int | None = None
) -> tuple[QuickSentiment, dict[str, Any]]:
    """Train on the training parts of the held-out split; report the held-out figures.

    ``limit`` keeps the first rows of each training part (tests). Raises
    :class:`SentimentUnavailable` when the review files are missing.
    """
    from shoprec.nlp.sentiment.data import load_reviews, split_alexa, split_multidomain
    from shoprec.nlp.sentiment.train import _scored

    data_hash = review_data_hash(settings)
    t0 = time.perf_counter()
    md, alexa = load_reviews(settings)
    (md_train, md_test), (al_train, al_test) = (
        split_multidomain(md, seed=settings.seed),
        split_alexa(alexa, seed=settings.seed),
    )
    train = [f.iloc[:limit] for f in (md_train, al_train)]
    texts = [t for f in train for t in f["text"]]
    y = np.concatenate([f["y"].to_numpy() for f in train])
    model = QuickSentiment(config).fit(texts, y)
    fit_s = time.perf_counter() - t0
    report = {"test": _scored(model, [md_test, al_test]), "fit_s": fit_s, "n_train": len(texts)}
    now = datetime.now(UTC)
    model.meta = {
        "version": f"{data_hash}-{now:%Y%m%dT%H%M%SZ}",
        "data_hash": data_hash,
        "trained_at": now.isoformat(timespec="seconds"),
        "train_s": round(fit_s, 2),
        "n_train": len(texts),
        "held_out": {
            "multidomain_accuracy": report["test"]["multidomain"]["accuracy"],
            "alexa_macro_f1": report["test"]["alexa"]["macro_f1"],
        },
    }
    return model, report


def load_or_train_quick(settings: Settings) -> QuickSentiment:
    """The cached quick model (``artifacts/sentiment-quick``) when it was trained on the review
    files as they are now, else trained (seconds) and cached. Raises
    :class:`SentimentUnavailable` naming the missing files when it cannot train."""
    path = Path(settings.artifacts_dir) / QUICK_DIR
    data_hash = review_data_hash(settings)
    if (path / "manifest.json").is_file():
        try:
            model = QuickSentiment.load(path)
        except (ValueError, KeyError, OSError) as e:  # a damaged cache is retrained, not served
            log.warning("quick sentiment model in %s unreadable (%s); retraining", path, e)
        else:
            if model.meta.get("data_hash") == data_hash:
                log.info("quick sentiment model %s reused from %s", model.version, path)
                return model
    model, _ = train_quick(settings)
    model.save(path)
    held = model.meta["held_out"]
    log.info(
        "quick sentiment model trained in %.1f s on %d reviews (held-out multidomain accuracy "
        "%.3f, alexa macro-F1 %.3f); version %s, saved to %s",
        model.meta["train_s"], model.meta["n_train"], held["multidomain_accuracy"],
        held["alexa_macro_f1"], model.version, path,
    )  # fmt: skip
    return model


__all__ = [
    "QUICK_ARTIFACT", "QUICK_DIR", "QuickConfig", "QuickSentiment", "SentimentUnavailable",
    "load_or_train_quick", "review_data_hash", "train_quick",
]  # fmt: skip
