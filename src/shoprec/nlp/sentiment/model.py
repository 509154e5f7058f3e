"""The sentiment model: a head over frozen encoder vectors and NB-weighted TF-IDF, giving
negative / neutral / positive probabilities and an intensity. The head runs in numpy at predict
time; :meth:`SentimentModel.save` writes numpy arrays only (no pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
from scipy import sparse

from shoprec.models.artifacts import read_arrays, write_arrays
from shoprec.nlp.sentiment.config import SentimentConfig
from shoprec.nlp.sentiment.features import Encoder, encoder_for, pooled_pieces
from shoprec.text.encoder import DIM

LABELS = ("negative", "neutral", "positive")
NEG, NEU, POS = 0, 1, 2
ARTIFACT = "sentiment"


@dataclass
class SentimentResult:
    """One prediction: ``label`` in :data:`LABELS`, ``intensity`` in [0, 1] (see
    :func:`intensity`) and the three class probabilities ``scores``."""

    label: str
    intensity: float
    scores: dict[str, float] = field(default_factory=dict)


def _named(values: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(LABELS, values, strict=True))


def intensity(probs: np.ndarray) -> np.ndarray:
    """Intensity of the arg-max label of each row of ``(N, 3)`` probabilities, in [0, 1].

    Positive: ``P(pos) - P(neg)``; negative: ``P(neg) - P(pos)``: how far the probability mass
    leans to that pole (moving mass onto the predicted pole from either other class raises it).
    Neutral: ``P(neutral)``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    lab, lean = probs.argmax(1), probs[:, POS] - probs[:, NEG]
    out = np.where(lab == POS, lean, np.where(lab == NEG, -lean, probs[:, NEU]))
    return np.clip(out, 0.0, 1.0)


def _log_softmax(h: np.ndarray) -> np.ndarray:
    # an absent class has logit -1e9: its probability is exactly 0, its log-probability finite
    h = h - h.max(1, keepdims=True)
    return h - np.log(np.exp(h).sum(1, keepdims=True))


def _fit_lr(
    x: Any, y: np.ndarray, weight: np.ndarray, c: float, seed: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Multinomial logistic regression: sklearn's classes and ``(weights (d, k), bias (k,))``."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    lr.fit(x, y, sample_weight=weight)
    return lr.classes_, (lr.coef_.T, lr.intercept_)


def _three_slots(
    classes: np.ndarray, w_out: np.ndarray, b_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scatter sklearn's classes into the three label slots; an absent class is never chosen."""
    w = np.zeros((w_out.shape[0], len(LABELS)))
    b = np.full(len(LABELS), -1e9)
    if len(classes) == 2:  # binary sklearn models keep one logit, for classes[1]
        w[:, classes[1]], b[classes[1]], b[classes[0]] = w_out[:, 0], b_out[0], 0.0
    else:
        w[:, classes], b[classes] = w_out, b_out
    return w, b


def _tfidf(cfg: SentimentConfig, vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    grams = (1, cfg.ngram_max)
    return TfidfVectorizer(ngram_range=grams, sublinear_tf=True, vocabulary=vocabulary)


def class_weights(y: np.ndarray, kind: str) -> np.ndarray:
    """Loss weight of each of the three classes: ``"balanced"`` (inverse frequency), its
    ``"sqrt"``, or ``"none"``; 0 for a class absent from ``y``."""
    counts = np.bincount(y, minlength=len(LABELS)).astype(np.float64)
    w = np.where(counts > 0, len(y) / (len(LABELS) * np.maximum(counts, 1)), 0.0)
    weights = {"balanced": w, "sqrt": np.sqrt(w), "none": (counts > 0) * 1.0}
    if kind not in weights:
        raise ValueError(f"unknown class_weight {kind!r}")
    return weights[kind]


def tfidf_arrays(vectorizer: Any, tf: Any, y: np.ndarray) -> dict[str, np.ndarray]:
    """A fitted TF-IDF ``vectorizer`` as arrays (``terms``: the vocabulary as UTF-8 bytes, no
    pickle; ``idf``) and ``nb``, each term's naive-Bayes log-count ratio, positive vs negative
    texts of ``tf`` (the texts' TF-IDF rows, labels ``y``)."""
    vocab = vectorizer.vocabulary_
    blob = "\n".join(sorted(vocab, key=vocab.__getitem__)).encode("utf-8")
    seen = (tf > 0).astype(np.float64)
    p = 1.0 + np.asarray(seen[y == POS].sum(0)).ravel()
    q = 1.0 + np.asarray(seen[y == NEG].sum(0)).ravel()
    return {
        "terms": np.frombuffer(blob, dtype=np.uint8).copy(),
        "idf": vectorizer.idf_.astype(np.float64),
        "nb": np.log(p / p.sum()) - np.log(q / q.sum()),
    }


def restore_tfidf(cfg: SentimentConfig, terms: np.ndarray, idf: np.ndarray) -> Any:
    """The vectorizer :func:`tfidf_arrays` saved, fitted again from its arrays."""
    words = terms.tobytes().decode("utf-8").split("\n")
    vectorizer = _tfidf(cfg, {t: i for i, t in enumerate(words)})
    vectorizer.idf_ = idf
    return vectorizer


def results(probs: np.ndarray) -> list[SentimentResult]:
    """Label, :func:`intensity` and named probabilities of each row of ``(N, 3)`` ``probs``
    (every sentiment model's ``predict``)."""
    return [
        SentimentResult(LABELS[int(p.argmax())], float(s), _named(p.tolist()))
        for p, s in zip(probs, intensity(probs), strict=True)
    ]


class SentimentModel:
    """Three-class review sentiment on frozen encoder vectors.

    Parameters
    ----------
    encoder : embeds text pieces (``encode(list[str]) -> (N, d)``); with ``config.layers`` set it
        must give those layers' pooled vectors, e.g. ``encoder_for(config, any_encoder)``.
    config : hyper-parameters.
    """

    def __init__(self, encoder: Encoder, config: SentimentConfig | None = None) -> None:
        self.encoder, self.config = encoder, config or SentimentConfig()
        self.arrays: dict[str, np.ndarray] = {}
        self._vectorizer: Any = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean piece vector of each text, L2-normalised, ``(N, d)`` (zeros for empty texts)."""
        out = pooled_pieces(texts, self.config.chunk_words, self.encoder)
        if out.shape[1] == 0:  # no text has a word: the width the head expects
            return np.zeros((len(texts), len(self.arrays.get("mu", range(DIM)))), np.float32)
        return out

    def _features(self, texts: Sequence[str], vecs: np.ndarray | None) -> tuple[Any, np.ndarray]:
        """The main head's input and the standardised embedding (the blend head's input)."""
        vecs = self.embed(texts) if vecs is None else vecs
        x = (vecs - self.arrays["mu"]) / self.arrays["sigma"]
        if not self.config.tfidf:
            return x, x
        tf = self._vectorizer.transform([t or "" for t in texts])
        scale = self.arrays.get("tfidf_nb", np.ones(tf.shape[1])) * self.config.tfidf_scale
        return sparse.hstack([sparse.csr_matrix(x), tf @ sparse.diags(scale)], format="csr"), x

    def fit(self, texts: list[str], labels: np.ndarray, vecs: np.ndarray | None = None) -> Self:
        """Train the head on ``texts`` with ``labels`` in {0, 1, 2} (negative, neutral, positive);
        ``vecs`` may pass precomputed :meth:`embed` output for ``texts``."""
        cfg, y = self.config, np.asarray(labels, dtype=np.int64)
        vecs = self.embed(texts) if vecs is None else vecs
        # the encoder has dead dimensions (std ~1e-32): a floor on sigma keeps them ~0
        self.arrays = {"mu": vecs.mean(0), "sigma": np.maximum(vecs.std(0), 1e-3)}
        if cfg.tfidf:
            self._vectorizer = _tfidf(cfg)
            tf = self._vectorizer.fit_transform([t or "" for t in texts])
            arrays = tfidf_arrays(self._vectorizer, tf, y)
            self.arrays["tfidf_terms"], self.arrays["tfidf_idf"] = arrays["terms"], arrays["idf"]
            if cfg.nb:
                self.arrays["tfidf_nb"] = arrays["nb"]
        x, x_emb = self._features(texts, vecs)
        w_class = class_weights(y, cfg.class_weight)
        classes, layers = self._fit_head(x, y, w_class[y])
        w, b = _three_slots(classes, *layers.pop())
        for k, (wk, bk) in enumerate([*layers, (w, b)]):
            self.arrays[f"w{k}"], self.arrays[f"b{k}"] = wk.astype(np.float64), bk
        if cfg.blend > 0:
            classes, (w_e, b_e) = _fit_lr(x_emb, y, w_class[y], cfg.blend_c, cfg.seed)
            self.arrays["blend_w"], self.arrays["blend_b"] = _three_slots(classes, w_e, b_e)
        return self

    def _fit_head(self, x: Any, y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, list]:
        cfg = self.config
        if cfg.head == "lr":
            classes, layer = _fit_lr(x, y, weight, cfg.c, cfg.seed)
            return classes, [layer]
        if cfg.head != "mlp":
            raise ValueError(f"unknown head {cfg.head!r}")
        from sklearn.neural_network import MLPClassifier

        # MLPClassifier takes no sample weights: draw rows in proportion to their weight
        idx = np.random.default_rng(cfg.seed).choice(len(y), 2 * len(y), p=weight / weight.sum())
        mlp = MLPClassifier(
            (cfg.hidden,), alpha=cfg.alpha, early_stopping=len(y) >= 1000, random_state=cfg.seed
        ).fit(x[idx], y[idx])
        return mlp.classes_, list(zip(mlp.coefs_, mlp.intercepts_, strict=True))

    def predict_proba(self, texts: Sequence[str], vecs: np.ndarray | None = None) -> np.ndarray:
        """``(N, 3)`` probabilities (negative, neutral, positive); ``vecs`` as in :meth:`fit`.

        Empty or whitespace-only texts carry no evidence either way: they get ``(0, 1, 0)``.
        """
        if "w0" not in self.arrays:
            raise RuntimeError("SentimentModel is not fitted")
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(LABELS)))
        h, x_emb = self._features(texts, vecs)
        for k in range(len([key for key in self.arrays if key.startswith("w")])):
            h = np.maximum(h, 0.0) if k else h  # ReLU between MLP layers
            h = np.asarray(h @ self.arrays[f"w{k}"]) + self.arrays[f"b{k}"]
        logp = _log_softmax(h)
        if "blend_w" in self.arrays:
            blend = self.config.blend
            logp_emb = _log_softmax(x_emb @ self.arrays["blend_w"] + self.arrays["blend_b"])
            logp = _log_softmax((1 - blend) * logp + blend * logp_emb)
        probs = np.exp(logp)
        probs[[not (t and t.strip()) for t in texts]] = np.eye(len(LABELS))[NEU]
        return probs

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Label, :func:`intensity` and class probabilities of each text."""
        return results(self.predict_proba(texts))

    def save(self, path: Path) -> None:
        """Write the config and the numpy arrays (:func:`write_arrays`; no pickle)."""
        write_arrays(Path(path), ARTIFACT, asdict(self.config), self.arrays)

    @classmethod
    def load(cls, path: Path, encoder: Encoder) -> SentimentModel:
        """Inverse of :meth:`save`; ``encoder`` as given to the trained model, or any encoder
        when the config names ``layers`` (a :class:`LayerEncoder` is then built)."""
        manifest, arrays = read_arrays(Path(path), ARTIFACT)
        conf = manifest["config"]
        conf["layers"] = None if conf["layers"] is None else tuple(conf["layers"])
        config = SentimentConfig(**conf)
        model = cls(encoder_for(config, encoder), config)
        model.arrays = arrays
        if config.tfidf:
            model._vectorizer = restore_tfidf(config, arrays["tfidf_terms"], arrays["tfidf_idf"])
        return model
