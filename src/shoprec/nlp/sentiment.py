"""Review sentiment (negative / neutral / positive, with an intensity) on the frozen MiniLM encoder.

A review is cut into pieces of about ``chunk_words`` words (the encoder truncates at 256 word
pieces, about 200 words), each piece is embedded by the frozen encoder and the piece vectors are
averaged and re-normalised. Two embeddings of the same pretrained model are offered: the sentence
vector of :class:`~shoprec.text.encoder.TextEncoder`, or :class:`LayerEncoder`'s mean-pooled
hidden states of intermediate layers (these carry more sentiment than the final, similarity-tuned
layer). A head (multinomial logistic regression or a one-layer MLP, optionally beside TF-IDF
features weighted by naive-Bayes log-count ratios) gives the class probabilities. The head runs
in numpy at predict time; artifacts hold numpy arrays only (no pickle).

Data: the Multi-Domain Sentiment Dataset (binary) and the Amazon Alexa reviews (1-2 negative,
3 neutral, 4-5 positive); see ``data/README.md`` section ``reviews/``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from inspect import signature
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, Self, cast

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.model_selection import train_test_split

from shoprec.models.artifacts import read_arrays, write_arrays
from shoprec.settings import Settings
from shoprec.text.encoder import DIM, TextEncoder, VectorCache, model_path

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
NEG, NEU, POS = 0, 1, 2
ARTIFACT = "sentiment"


class Encoder(Protocol):
    """Anything that embeds texts into ``(N, d)`` vectors (e.g. :class:`TextEncoder`)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class SentimentConfig:
    """Hyper-parameters of :class:`SentimentModel` (defaults: the variant chosen on validation).

    Parameters
    ----------
    layers : hidden layers pooled by :class:`LayerEncoder` (0 = embeddings, 6 = last); ``None``
        uses the encoder passed to the model as is (e.g. the sentence vectors of ``TextEncoder``).
    chunk_words : words per piece when a review is cut for the encoder (pieces are equal-sized).
    head : ``"lr"`` (multinomial logistic regression) or ``"mlp"`` (one ReLU hidden layer).
    c : inverse L2 strength of the logistic regression.
    hidden, alpha : hidden units and L2 strength of the MLP.
    tfidf : put TF-IDF word n-grams (sublinear tf, L2 rows, vocabulary of the training texts)
        beside the standardised embedding.
    ngram_max : longest word n-gram of the TF-IDF block.
    nb : scale each TF-IDF term by its naive-Bayes log-count ratio, positive vs negative texts
        (NB-LR, Wang & Manning 2012).
    tfidf_scale : weight of the TF-IDF block beside the embedding.
    class_weight : ``"balanced"`` (inverse class frequency), ``"sqrt"`` (its square root) or
        ``"none"``; the neutral class only comes from the small Alexa set.
    seed : random seed of the head.
    """

    layers: tuple[int, ...] | None = (2, 3, 4, 5)
    chunk_words: int = 50
    head: str = "lr"
    c: float = 0.1
    hidden: int = 256
    alpha: float = 1e-2
    tfidf: bool = True
    ngram_max: int = 2
    nb: bool = True
    tfidf_scale: float = 100.0
    class_weight: str = "balanced"
    seed: int = 42


@dataclass
class SentimentResult:
    """One prediction: ``label`` in :data:`LABELS`, ``intensity`` in [0, 1] (see
    :func:`intensity`) and the three class probabilities ``scores``."""

    label: str
    intensity: float
    scores: dict[str, float] = field(default_factory=dict)


def _named(values: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(LABELS, values, strict=True))


def chunk_text(text: str, chunk_words: int) -> list[str]:
    """Cut ``text`` into ``ceil(n / chunk_words)`` pieces of equal word count ([] when empty)."""
    words = text.split()
    if not words:
        return []
    size = math.ceil(len(words) / math.ceil(len(words) / chunk_words))
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


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


class LayerEncoder:
    """Frozen all-MiniLM-L6-v2 (the bundled model): per text, the attention-masked mean of the
    hidden states of each of ``layers``, each L2-normalised, concatenated ``(N, 384 * k)``."""

    def __init__(self, layers: Sequence[int] = (2, 3, 4, 5), batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.layers, self.batch_size = tuple(layers), batch_size
        self._tok = AutoTokenizer.from_pretrained(str(model_path()))
        self._model = AutoModel.from_pretrained(str(model_path())).eval()

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Pooled layer vectors of ``texts`` (bf16 autocast, length-sorted batches)."""
        import torch
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), DIM * len(self.layers)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(order), self.batch_size)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for i in tqdm(starts, desc="encode layers", disable=not progress):
                rows = order[i : i + self.batch_size]
                batch = self._tok(
                    [texts[r] for r in rows], padding=True, truncation=True, return_tensors="pt"
                )
                hidden = self._model(**batch, output_hidden_states=True).hidden_states
                mask = batch["attention_mask"][..., None].float()
                pooled = [(hidden[k].float() * mask).sum(1) / mask.sum(1) for k in self.layers]
                vecs = torch.cat([torch.nn.functional.normalize(p, dim=-1) for p in pooled], 1)
                out[rows] = vecs.numpy()
        return out


class CachedEncoder:
    """``encoder`` with its vectors kept by content hash in a :class:`VectorCache` file."""

    def __init__(self, encoder: Encoder, path: Path | None) -> None:
        self.encoder, self.cache = encoder, VectorCache(path)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` (non-empty), encoding and persisting only those not cached."""
        inner = self.encoder
        # bars for long encodes when the encoder can draw them (TextEncoder, LayerEncoder)
        bar = {"progress": True} if "progress" in signature(inner.encode).parameters else {}
        shim = SimpleNamespace(
            encode=lambda batch, progress=False: inner.encode(list(batch), **bar)
        )
        return self.cache.embed(list(texts), cast(TextEncoder, shim))


def encoder_for(config: SentimentConfig, encoder: Encoder) -> Encoder:
    """The encoder ``config`` needs: ``encoder`` itself, or a :class:`LayerEncoder`."""
    if config.layers is None or getattr(encoder, "layers", None) == config.layers:
        return encoder
    return LayerEncoder(config.layers)


def _tfidf(cfg: SentimentConfig, vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    grams = (1, cfg.ngram_max)
    return TfidfVectorizer(ngram_range=grams, sublinear_tf=True, vocabulary=vocabulary)


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
        pieces, owner = [], []
        for i, text in enumerate(texts):
            chunks = chunk_text(text or "", self.config.chunk_words)
            pieces += chunks
            owner += [i] * len(chunks)
        if not pieces:
            return np.zeros((len(texts), len(self.arrays.get("mu", range(DIM)))), np.float32)
        vecs = np.asarray(self.encoder.encode(pieces), dtype=np.float32)
        out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        np.add.at(out, np.asarray(owner), vecs)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)

    def _features(self, texts: Sequence[str], vecs: np.ndarray | None) -> Any:
        vecs = self.embed(texts) if vecs is None else vecs
        x = (vecs - self.arrays["mu"]) / self.arrays["sigma"]
        if not self.config.tfidf:
            return x
        tf = self._vectorizer.transform([t or "" for t in texts])
        scale = self.arrays.get("tfidf_nb", np.ones(tf.shape[1])) * self.config.tfidf_scale
        return sparse.hstack([sparse.csr_matrix(x), tf @ sparse.diags(scale)], format="csr")

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
            vocab = self._vectorizer.vocabulary_
            blob = "\n".join(sorted(vocab, key=vocab.__getitem__)).encode("utf-8")
            self.arrays["tfidf_terms"] = np.frombuffer(blob, dtype=np.uint8).copy()
            self.arrays["tfidf_idf"] = self._vectorizer.idf_.astype(np.float64)
            if cfg.nb:
                seen = (tf > 0).astype(np.float64)
                p = 1.0 + np.asarray(seen[y == POS].sum(0)).ravel()
                q = 1.0 + np.asarray(seen[y == NEG].sum(0)).ravel()
                self.arrays["tfidf_nb"] = np.log(p / p.sum()) - np.log(q / q.sum())
        x = self._features(texts, vecs)
        counts = np.bincount(y, minlength=len(LABELS)).astype(np.float64)
        w_class = np.where(counts > 0, len(y) / (len(LABELS) * np.maximum(counts, 1)), 0.0)
        weights = {"balanced": w_class, "sqrt": np.sqrt(w_class), "none": (counts > 0) * 1.0}
        if cfg.class_weight not in weights:
            raise ValueError(f"unknown class_weight {cfg.class_weight!r}")
        w_class = weights[cfg.class_weight]
        classes, layers = self._fit_head(x, y, w_class[y])
        # scatter sklearn's classes into the three label slots; an absent class is never chosen
        w_out, b_out = layers.pop()
        w = np.zeros((w_out.shape[0], len(LABELS)))
        b = np.full(len(LABELS), -1e9)
        if len(classes) == 2:  # binary sklearn models keep one logit, for classes[1]
            w[:, classes[1]], b[classes[1]], b[classes[0]] = w_out[:, 0], b_out[0], 0.0
        else:
            w[:, classes], b[classes] = w_out, b_out
        for k, (wk, bk) in enumerate([*layers, (w, b)]):
            self.arrays[f"w{k}"], self.arrays[f"b{k}"] = wk.astype(np.float64), bk
        return self

    def _fit_head(self, x: Any, y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, list]:
        cfg = self.config
        if cfg.head == "lr":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=cfg.c, max_iter=3000, random_state=cfg.seed)
            lr.fit(x, y, sample_weight=weight)
            return lr.classes_, [(lr.coef_.T, lr.intercept_)]
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
        h = self._features(texts, vecs)
        for k in range(len([key for key in self.arrays if key.startswith("w")])):
            h = np.maximum(h, 0.0) if k else h  # ReLU between MLP layers
            h = np.asarray(h @ self.arrays[f"w{k}"]) + self.arrays[f"b{k}"]
        z = np.exp(h - h.max(1, keepdims=True))
        probs = z / z.sum(1, keepdims=True)
        probs[[not (t and t.strip()) for t in texts]] = np.eye(len(LABELS))[NEU]
        return probs

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Label, :func:`intensity` and class probabilities of each text."""
        probs = self.predict_proba(texts)
        return [
            SentimentResult(LABELS[int(p.argmax())], float(s), _named(p.tolist()))
            for p, s in zip(probs, intensity(probs), strict=True)
        ]

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
            terms = arrays["tfidf_terms"].tobytes().decode("utf-8").split("\n")
            model._vectorizer = _tfidf(config, {t: i for i, t in enumerate(terms)})
            model._vectorizer.idf_ = arrays["tfidf_idf"]
        return model


# -- data and evaluation ------------------------------------------------------------------------
def load_reviews(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two review sets, with a ``text`` and a class ``y`` (0/1/2) column added.

    Multi-domain: ``text`` is the title and the review joined, ``y`` from ``label``. Alexa: empty
    reviews are dropped and identical texts (case and spacing ignored) are merged into one row
    (class of the median rating, ``copies`` counted), so no text is on both sides of a split.
    """
    root = Path(settings.data_dir) / "reviews"
    md = pd.read_csv(root / "multidomain_reviews.csv")
    title = md["title"].fillna("").str.strip()
    sep = np.where(title.str.contains(r"[.!?]$") | (title == ""), " ", ". ")
    md["text"] = (title + sep + md["review_text"].fillna("").str.strip()).str.strip()
    md["y"] = np.where(md["label"] == "positive", POS, NEG)
    alexa = pd.read_csv(root / "amazon_alexa.tsv", sep="\t")
    alexa["text"] = alexa["verified_reviews"].fillna("").astype(str).str.strip()
    alexa = alexa[alexa["text"] != ""]
    key = alexa["text"].map(lambda t: " ".join(t.lower().split()))
    merged = alexa.groupby(key, sort=False).agg(
        text=("text", "first"), rating=("rating", "median"), copies=("rating", "size")
    )
    merged = merged.reset_index(drop=True)
    r = merged["rating"].to_numpy()
    merged["y"] = np.where(r < 2.5, NEG, np.where(r < 3.5, NEU, POS))
    return md, merged


def split_multidomain(
    md: pd.DataFrame, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train / held-out split stratified by domain and label."""
    strata = md["domain"].astype(str) + "/" + md["y"].astype(str)
    train, test = train_test_split(md, test_size=test_size, random_state=seed, stratify=strata)
    return train, test


def split_alexa(
    alexa: pd.DataFrame, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train / held-out split of the deduplicated Alexa texts, stratified by class."""
    train, test = train_test_split(
        alexa, test_size=test_size, random_state=seed, stratify=alexa["y"]
    )
    return train, test


def class_report(y: np.ndarray, pred: np.ndarray, labels: Sequence[int]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision / recall / F1 and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    p, r, f, n = precision_recall_fscore_support(y, pred, labels=list(labels), zero_division=0)
    per_class = {
        LABELS[c]: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(n[i])}
        for i, c in enumerate(labels)
    }
    return {
        "n": len(y), "accuracy": float(np.mean(y == pred)), "macro_f1": float(np.mean(f)),
        "per_class": json.loads(json.dumps(per_class, default=float)),
        "labels": [LABELS[c] for c in labels],
        "confusion": confusion_matrix(y, pred, labels=list(labels)).tolist(),
    }  # fmt: skip


def evaluate(
    probs_md: np.ndarray, y_md: np.ndarray, probs_al: np.ndarray, y_al: np.ndarray
) -> dict:
    """Binary report on multi-domain (positive iff ``P(pos) > P(neg)``), three-class on Alexa."""
    pred_md = np.where(probs_md[:, POS] > probs_md[:, NEG], POS, NEG)
    return {
        "multidomain": class_report(y_md, pred_md, (NEG, POS)),
        "alexa": class_report(y_al, probs_al.argmax(1), (NEG, NEU, POS)),
    }


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    cm = np.bincount(y * 3 + pred, minlength=9).reshape(3, 3)
    denom = cm.sum(0) + cm.sum(1)
    return float(np.mean(2 * np.diag(cm)[denom > 0] / denom[denom > 0]))


def vader_baseline(md: Sequence[pd.DataFrame], alexa: Sequence[pd.DataFrame]) -> dict[str, Any]:
    """VADER compound score with cuts chosen on the training parts (``md`` and ``alexa`` are
    (train, test) pairs): one cut for the binary set (best accuracy), two for Alexa (best
    macro-F1; neutral in between)."""
    from tqdm.auto import tqdm
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()

    def compound(frame: pd.DataFrame) -> np.ndarray:
        texts = tqdm(frame["text"], desc="vader", leave=False)
        return np.array([sia.polarity_scores(t)["compound"] for t in texts])

    grid = np.round(np.arange(-0.95, 0.951, 0.025), 3)
    (c_tr, c_te), ys = map(compound, md), [f["y"].to_numpy() for f in md]
    cut = max(grid, key=lambda t: float(np.mean(np.where(c_tr > t, POS, NEG) == ys[0])))
    out = {"multidomain": class_report(ys[1], np.where(c_te > cut, POS, NEG), (NEG, POS))}
    out["multidomain"]["cuts"] = [float(cut)]

    def three(c: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return np.where(c < lo, NEG, np.where(c < hi, NEU, POS))

    (c_tr, c_te), ys = map(compound, alexa), [f["y"].to_numpy() for f in alexa]
    pairs = [(lo, hi) for lo in grid for hi in grid if hi >= lo]
    lo, hi = max(pairs, key=lambda p: _macro_f1(ys[0], three(c_tr, *p)))
    out["alexa"] = class_report(ys[1], three(c_te, lo, hi), (NEG, NEU, POS))
    out["alexa"]["cuts"] = [float(lo), float(hi)]
    return out


# -- training on the review sets ----------------------------------------------------------------
_S = SentimentConfig(layers=None, chunk_words=180, tfidf=False, nb=False)
VARIANTS: tuple[tuple[str, SentimentConfig], ...] = (
    ("sentence vec + LR", _S),
    ("sentence vec + MLP", replace(_S, head="mlp")),
    ("sentence vec + TF-IDF", replace(_S, tfidf=True, c=1.0, tfidf_scale=30.0)),
    ("sentence vec + NB-TF-IDF", replace(_S, tfidf=True, nb=True)),
    ("layers 2-5 + LR", SentimentConfig(tfidf=False, nb=False, c=0.03)),
    ("layers 2-5 + MLP", SentimentConfig(tfidf=False, nb=False, head="mlp")),
    ("layers 2-5 + NB-TF-IDF, C=0.03", SentimentConfig(c=0.03)),
    ("layers 2-5 + NB-TF-IDF", SentimentConfig()),
)
"""(name, config) pairs compared on validation by :func:`train_default`."""


def _fit_eval(
    encoder: Encoder,
    cfg: SentimentConfig,
    train: Sequence[pd.DataFrame],
    test: Sequence[pd.DataFrame],
) -> tuple[SentimentModel, dict[str, Any]]:
    """Fit on the concatenated ``train`` frames; report on ``test`` = (multidomain, alexa)."""
    model = SentimentModel(encoder, cfg)
    texts = [t for f in train for t in f["text"]]
    t0 = time.perf_counter()
    model.fit(texts, np.concatenate([f["y"].to_numpy() for f in train]))
    fit_s = time.perf_counter() - t0
    probs = [model.predict_proba(f["text"].tolist()) for f in test]
    report = evaluate(probs[0], test[0]["y"].to_numpy(), probs[1], test[1]["y"].to_numpy())
    return model, {**report, "fit_s": fit_s}


def train_default(
    settings: Settings,
    encoder: Encoder,
    variants: Sequence[tuple[str, SentimentConfig]] | None = None,
    vader: bool = True,
) -> tuple[SentimentModel, dict[str, Any]]:
    """Choose a variant on validation, refit it on the training parts, report on held-out parts.

    Held out: 20 % of the multi-domain set (stratified by domain and label) and 20 % of the
    distinct Alexa texts (stratified by class), seed ``settings.seed``. Validation: 20 % carved
    the same way from each training part. Each of ``variants`` (default :data:`VARIANTS`) is fit
    on training minus validation; the chosen one has the best binary accuracy (multi-domain)
    among those whose Alexa macro-F1 beats VADER's on validation (else the best mean of the two),
    and is refit on the whole training parts. ``encoder``
    (the sentence encoder) serves the ``layers=None`` variants; vectors are cached by content
    hash under ``settings.artifacts_dir`` (``sentiment_vectors.npz``, ``sentiment_layers.npz``).

    Returns
    -------
    The refit model and a report: split sizes, the variants' validation figures, the chosen one,
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
    variants = list(variants or VARIANTS)
    encoders: dict[Any, Encoder] = {}
    for layers in {cfg.layers for _, cfg in variants}:
        raw = encoder if layers is None else LayerEncoder(layers)
        name = "sentiment_vectors.npz" if layers is None else "sentiment_layers.npz"
        encoders[layers] = CachedEncoder(raw, art / name)
    t0 = time.perf_counter()
    for _, cfg in variants:  # encode every piece once (cached across runs)
        SentimentModel(encoders[cfg.layers], cfg).embed(pd.concat([md, alexa])["text"].tolist())
    report["encode_s"] = time.perf_counter() - t0
    bar = -1.0
    if vader:  # the floor on Alexa, measured on validation with cuts chosen on the fit parts
        report["vader_val"] = vader_baseline([md_fit, md_val], [al_fit, al_val])
        bar = report["vader_val"]["alexa"]["macro_f1"]
    best: tuple[tuple[bool, float], str, SentimentConfig] | None = None
    for name, cfg in variants:
        _, val = _fit_eval(encoders[cfg.layers], cfg, [md_fit, al_fit], [md_val, al_val])
        acc, f1 = val["multidomain"]["accuracy"], val["alexa"]["macro_f1"]
        log.info("variant %-32s val accuracy %.4f  alexa macro-F1 %.4f", name, acc, f1)
        report["variants"].append({"name": name, "config": asdict(cfg), "val_accuracy": acc,
                                   "val_alexa_macro_f1": f1, "fit_s": val["fit_s"]})  # fmt: skip
        key = (f1 > bar, acc if f1 > bar else (acc + f1) / 2)
        if best is None or key > best[0]:
            best = (key, name, cfg)
    assert best is not None
    report["chosen"] = best[1]
    cached = encoders[best[2].layers]
    model, report["test"] = _fit_eval(cached, best[2], [md_train, al_train], [md_test, al_test])
    if vader:
        t0 = time.perf_counter()
        report["vader"] = vader_baseline([md_train, md_test], [al_train, al_test])
        report["vader_s"] = time.perf_counter() - t0
    model.encoder = cast(CachedEncoder, cached).encoder
    report["seconds"] = time.perf_counter() - t_start
    return model, report


def load_or_train(settings: Settings, encoder: Encoder) -> SentimentModel:
    """The model cached under ``settings.artifacts_dir / "sentiment"``; trained when missing."""
    path = Path(settings.artifacts_dir) / ARTIFACT
    if (path / "manifest.json").is_file():
        return SentimentModel.load(path, encoder)
    model, report = train_default(settings, encoder)
    model.save(path)
    (path / "report.json").write_text(json.dumps(report, indent=2))
    log.info("sentiment model (%s) trained and saved to %s", report["chosen"], path)
    return model
