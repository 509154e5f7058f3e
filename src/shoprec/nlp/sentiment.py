"""Review sentiment (negative / neutral / positive, with an intensity) on the frozen text encoder.

A review is cut into pieces of about ``chunk_words`` words (the encoder truncates at 256 word
pieces; reviews average 1.27 pieces per word), each piece is embedded, and the piece vectors are
averaged and re-normalised. A head trained on these vectors (multinomial logistic regression or a
small MLP, optionally with TF-IDF word/bigram features concatenated) gives the class probabilities.
The head runs in numpy at predict time; artifacts hold numpy arrays only (no pickle).

Data: the Multi-Domain Sentiment Dataset (binary) and the Amazon Alexa reviews (1-2 negative,
3 neutral, 4-5 positive), see ``data/README.md`` section ``reviews/``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self, cast

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.model_selection import train_test_split

from shoprec.models.artifacts import read_arrays, write_arrays
from shoprec.settings import Settings
from shoprec.text.encoder import DIM, TextEncoder, VectorCache

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
NEG, NEU, POS = 0, 1, 2
ARTIFACT = "sentiment"


class Encoder(Protocol):
    """Anything that embeds texts into ``(N, d)`` vectors (e.g. :class:`TextEncoder`)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class SentimentConfig:
    """Hyper-parameters of :class:`SentimentModel`.

    Parameters
    ----------
    chunk_words : words per piece when a review is cut for the encoder (pieces are equal-sized).
    head : ``"lr"`` (multinomial logistic regression) or ``"mlp"`` (one ReLU hidden layer).
    c : inverse L2 strength of the logistic regression.
    hidden : hidden units of the MLP.
    alpha : L2 strength of the MLP.
    tfidf : concatenate TF-IDF word n-gram features (sublinear tf, L2 rows) to the vectors.
    ngram_max : longest word n-gram of the TF-IDF block.
    min_df : least number of training texts a TF-IDF term must occur in.
    tfidf_features : cap on the TF-IDF vocabulary (most frequent terms); ``None``: no cap.
    nb : scale each TF-IDF term by its naive-Bayes log-count ratio, positive vs negative texts
        (NB-LR, Wang & Manning 2012).
    tfidf_scale : weight of the TF-IDF block beside the standardised embedding.
    class_weight : ``"balanced"`` (inverse class frequency), ``"sqrt"`` (its square root) or
        ``"none"``; the neutral class only comes from the small Alexa set.
    seed : random seed of the head.
    """

    chunk_words: int = 180
    head: str = "lr"
    c: float = 1.0
    hidden: int = 256
    alpha: float = 1e-2
    tfidf: bool = False
    ngram_max: int = 2
    min_df: int = 1
    tfidf_features: int | None = None
    nb: bool = False
    tfidf_scale: float = 1.0
    class_weight: str = "balanced"
    seed: int = 42


@dataclass
class SentimentResult:
    """One prediction: ``label`` in :data:`LABELS`, ``intensity`` in [0, 1] (see
    :meth:`SentimentModel.predict`) and the three class ``scores`` (probabilities)."""

    label: str
    intensity: float
    scores: dict[str, float] = field(default_factory=dict)


def chunk_text(text: str, chunk_words: int) -> list[str]:
    """Cut ``text`` into ``ceil(n / chunk_words)`` pieces of equal word count ([] when empty)."""
    words = text.split()
    if not words:
        return []
    k = math.ceil(len(words) / chunk_words)
    size = math.ceil(len(words) / k)
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def intensity(probs: np.ndarray) -> np.ndarray:
    """Intensity of the arg-max label for rows of ``(N, 3)`` probabilities, in [0, 1].

    Positive: ``P(pos) - P(neg)``; negative: ``P(neg) - P(pos)`` (how far the mass leans to that
    pole; moving mass onto the predicted pole from either other class raises it). Neutral:
    ``P(neutral)``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    lab = probs.argmax(1)
    lean = probs[:, POS] - probs[:, NEG]
    out = np.where(lab == POS, lean, np.where(lab == NEG, -lean, probs[:, NEU]))
    return np.clip(out, 0.0, 1.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return cast(np.ndarray, e / e.sum(1, keepdims=True))


class SentimentModel:
    """Three-class review sentiment on frozen encoder vectors.

    Parameters
    ----------
    encoder : embeds texts (``encode(list[str]) -> (N, d)``), e.g. :class:`TextEncoder`.
    config : hyper-parameters.
    """

    def __init__(self, encoder: Encoder, config: SentimentConfig | None = None) -> None:
        self.encoder = encoder
        self.config = config or SentimentConfig()
        self.arrays: dict[str, np.ndarray] = {}
        self._vectorizer: Any = None

    # -- features -----------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean piece vector of each text, L2-normalised, ``(N, d)`` (zeros for empty texts)."""
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            chunks = chunk_text(text or "", self.config.chunk_words)
            pieces += chunks
            owner += [i] * len(chunks)
        vecs = np.asarray(self.encoder.encode(pieces), dtype=np.float32) if pieces else None
        dim = vecs.shape[1] if vecs is not None else DIM
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if vecs is not None:
            np.add.at(out, np.asarray(owner), vecs)
            norm = np.linalg.norm(out, axis=1, keepdims=True)
            out = np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)
        return out

    def _features(self, texts: Sequence[str], vecs: np.ndarray | None = None) -> Any:
        vecs = self.embed(texts) if vecs is None else vecs
        x = (vecs - self.arrays["mu"]) / self.arrays["sigma"]
        if not self.config.tfidf:
            return x
        tf = self._vectorizer.transform([t or "" for t in texts])
        scale = self.arrays.get("tfidf_nb", np.ones(tf.shape[1])) * self.config.tfidf_scale
        tf = tf @ sparse.diags(scale)
        return sparse.hstack([sparse.csr_matrix(x), tf], format="csr")

    # -- training -----------------------------------------------------------------------------
    def fit(self, texts: list[str], labels: np.ndarray, vecs: np.ndarray | None = None) -> Self:
        """Train the head on ``texts`` with ``labels`` in {0, 1, 2} (negative, neutral, positive).

        ``vecs`` may pass precomputed :meth:`embed` output for ``texts``.
        """
        cfg = self.config
        y = np.asarray(labels, dtype=np.int64)
        vecs = self.embed(texts) if vecs is None else vecs
        # the encoder has near-dead dimensions (std ~1e-32): floor sigma so they stay ~0
        self.arrays = {"mu": vecs.mean(0), "sigma": np.maximum(vecs.std(0), 1e-3)}
        if cfg.tfidf:
            self._vectorizer = _tfidf(cfg)
            tf = self._vectorizer.fit_transform([t or "" for t in texts])
            vocab = self._vectorizer.vocabulary_
            terms = sorted(vocab, key=vocab.__getitem__)
            # terms are space-joined \w\w+ tokens: newline-joined UTF-8 bytes are compact
            blob = "\n".join(terms).encode("utf-8")
            self.arrays["tfidf_terms"] = np.frombuffer(blob, dtype=np.uint8).copy()
            self.arrays["tfidf_idf"] = self._vectorizer.idf_.astype(np.float64)
            if cfg.nb:
                present = (tf > 0).astype(np.float64)
                p = 1.0 + np.asarray(present[y == POS].sum(0)).ravel()
                q = 1.0 + np.asarray(present[y == NEG].sum(0)).ravel()
                self.arrays["tfidf_nb"] = np.log(p / p.sum()) - np.log(q / q.sum())
        x = self._features(texts, vecs)
        counts = np.bincount(y, minlength=len(LABELS)).astype(np.float64)
        w_class = np.where(counts > 0, len(y) / (len(LABELS) * np.maximum(counts, 1)), 0.0)
        if cfg.class_weight == "sqrt":
            w_class = np.sqrt(w_class)
        elif cfg.class_weight == "none":
            w_class = (counts > 0).astype(np.float64)
        weight = w_class[y]
        if cfg.head == "lr":
            self._fit_lr(x, y, weight)
        elif cfg.head == "mlp":
            self._fit_mlp(x, y, weight)
        else:
            raise ValueError(f"unknown head {cfg.head!r}")
        return self

    def _fit_lr(self, x: Any, y: np.ndarray, weight: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.config.c, max_iter=3000, random_state=self.config.seed)
        lr.fit(x, y, sample_weight=weight)
        w = np.zeros((len(LABELS), x.shape[1]))
        b = np.full(len(LABELS), -1e9)  # a class absent from training is never predicted
        w[lr.classes_], b[lr.classes_] = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # binary sklearn LR: one logit for classes_[1]
            w[lr.classes_[0]], b[lr.classes_[0]] = 0.0, 0.0
        self.arrays.update(w0=w.T.astype(np.float64), b0=b)

    def _fit_mlp(self, x: Any, y: np.ndarray, weight: np.ndarray) -> None:
        from sklearn.neural_network import MLPClassifier

        cfg = self.config
        # MLPClassifier has no sample weights: resample rows in proportion to their weight
        rng = np.random.default_rng(cfg.seed)
        p = weight / weight.sum()
        idx = rng.choice(len(y), size=2 * len(y), p=p)
        mlp = MLPClassifier(
            hidden_layer_sizes=(cfg.hidden,),
            alpha=cfg.alpha,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            max_iter=200,
            random_state=cfg.seed,
        )
        mlp.fit(x[idx], y[idx])
        w1 = np.zeros((cfg.hidden, len(LABELS)))
        b1 = np.full(len(LABELS), -1e9)
        if len(mlp.classes_) == 2:
            w1[:, mlp.classes_[1]], b1[mlp.classes_[1]] = mlp.coefs_[1][:, 0], mlp.intercepts_[1]
            w1[:, mlp.classes_[0]], b1[mlp.classes_[0]] = 0.0, 0.0
        else:
            w1[:, mlp.classes_], b1[mlp.classes_] = mlp.coefs_[1], mlp.intercepts_[1]
        self.arrays.update(w0=mlp.coefs_[0], b0=mlp.intercepts_[0], w1=w1, b1=b1)

    # -- inference ----------------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str], vecs: np.ndarray | None = None) -> np.ndarray:
        """``(N, 3)`` probabilities (negative, neutral, positive) per text.

        Empty or whitespace-only texts carry no evidence: they get ``(0, 1, 0)``.
        """
        if "w0" not in self.arrays:
            raise RuntimeError("SentimentModel is not fitted")
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(LABELS)))
        x = self._features(texts, vecs)
        h = np.asarray(x @ self.arrays["w0"]) + self.arrays["b0"]
        if "w1" in self.arrays:
            h = np.maximum(h, 0.0) @ self.arrays["w1"] + self.arrays["b1"]
        probs = _softmax(h)
        empty = np.array([not (t and t.strip()) for t in texts])
        probs[empty] = np.eye(len(LABELS))[NEU]
        return probs

    def predict(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Label, intensity (:func:`intensity`: the lean towards the predicted pole, or
        ``P(neutral)`` for neutral) and the class probabilities of each text."""
        probs = self.predict_proba(texts)
        inten = intensity(probs)
        return [
            SentimentResult(
                label=LABELS[int(p.argmax())],
                intensity=float(s),
                scores={lab: float(v) for lab, v in zip(LABELS, p, strict=True)},
            )
            for p, s in zip(probs, inten, strict=True)
        ]

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the config and the numpy arrays (``write_arrays``; no pickle)."""
        write_arrays(Path(path), ARTIFACT, asdict(self.config), self.arrays)

    @classmethod
    def load(cls, path: Path, encoder: Encoder) -> SentimentModel:
        """Inverse of :meth:`save`; ``encoder`` must be the one the model was trained with."""
        manifest, arrays = read_arrays(Path(path), ARTIFACT)
        model = cls(encoder, SentimentConfig(**manifest["config"]))
        model.arrays = arrays
        if model.config.tfidf:
            terms = arrays["tfidf_terms"].tobytes().decode("utf-8").split("\n")
            vec = _tfidf(model.config, vocabulary={t: i for i, t in enumerate(terms)})
            vec.idf_ = arrays["tfidf_idf"]
            model._vectorizer = vec
        return model


def _tfidf(cfg: SentimentConfig, vocabulary: dict[str, int] | None = None) -> Any:
    """The TF-IDF vectoriser of ``cfg`` (with a fixed ``vocabulary`` when loading)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if vocabulary is not None:
        return TfidfVectorizer(
            ngram_range=(1, cfg.ngram_max), sublinear_tf=True, vocabulary=vocabulary
        )
    return TfidfVectorizer(
        ngram_range=(1, cfg.ngram_max),
        min_df=cfg.min_df,
        max_features=cfg.tfidf_features,
        sublinear_tf=True,
    )


class CachedEncoder:
    """An encoder whose vectors are kept in a :class:`VectorCache` (content-hash keyed)."""

    def __init__(self, encoder: Encoder, path: Path | None) -> None:
        self.encoder = encoder
        self.cache = VectorCache(path)

    def encode(self, texts: list[str], progress: bool = True) -> np.ndarray:
        """Vectors of ``texts``, encoding (and persisting) only those not cached yet."""
        inner = _Progress(self.encoder)
        return self.cache.embed(list(texts), cast(TextEncoder, inner), progress=progress)


class _Progress:
    """Feeds ``encoder`` in blocks under a tqdm bar (VectorCache passes ``progress=``)."""

    def __init__(self, encoder: Encoder, block: int = 512) -> None:
        self.encoder, self.block = encoder, block

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i in tqdm(range(0, len(texts), self.block), desc="encode", disable=not progress):
            rows = order[i : i + self.block]
            out[rows] = self.encoder.encode([texts[r] for r in rows])
        return out


# -- data ---------------------------------------------------------------------------------------
def _rating_class(rating: pd.Series) -> np.ndarray:
    r = rating.to_numpy(dtype=np.float64)
    return np.where(r < 2.5, NEG, np.where(r < 3.5, NEU, POS)).astype(np.int64)


def load_reviews(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two review sets with columns ``text`` and ``y`` (0/1/2) among the originals.

    Multi-domain: ``text`` is the title and the review joined, ``y`` from ``label``. Alexa: empty
    reviews are dropped and identical texts (case and spacing ignored) are merged into one row
    whose class is that of the median rating, so no text can be on both sides of a split.
    """
    root = Path(settings.data_dir) / "reviews"
    md = pd.read_csv(root / "multidomain_reviews.csv")
    title = md["title"].fillna("").str.strip()
    sep = np.where(title.str.match(r".*[.!?]$") | (title == ""), " ", ". ")
    md["text"] = (title + sep + md["review_text"].fillna("").str.strip()).str.strip()
    md["y"] = np.where(md["label"] == "positive", POS, NEG)
    alexa = pd.read_csv(root / "amazon_alexa.tsv", sep="\t")
    alexa["text"] = alexa["verified_reviews"].fillna("").astype(str).str.strip()
    alexa = alexa[alexa["text"] != ""].copy()
    alexa["key"] = alexa["text"].map(lambda t: " ".join(t.lower().split()))
    merged = alexa.groupby("key", sort=False).agg(
        text=("text", "first"), rating=("rating", "median"), copies=("rating", "size")
    )
    merged = merged.reset_index(drop=True)
    merged["y"] = _rating_class(merged["rating"])
    log.info("alexa: %d non-empty reviews -> %d distinct texts", len(alexa), len(merged))
    return md.reset_index(drop=True), merged


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
    """Train / held-out split of the (deduplicated) Alexa texts, stratified by class."""
    train, test = train_test_split(
        alexa, test_size=test_size, random_state=seed, stratify=alexa["y"]
    )
    return train, test


# -- evaluation ---------------------------------------------------------------------------------
def _class_report(y: np.ndarray, pred: np.ndarray, labels: Sequence[int]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.metrics import precision_recall_fscore_support as prfs

    p, r, f, n = prfs(y, pred, labels=list(labels), zero_division=0)
    return {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, labels=list(labels), average="macro", zero_division=0)),
        "per_class": {
            LABELS[c]: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(n[i]),
            }
            for i, c in enumerate(labels)
        },
        "labels": [LABELS[c] for c in labels],
        "confusion": confusion_matrix(y, pred, labels=list(labels)).tolist(),
    }


def macro_f1(y: np.ndarray, pred: np.ndarray, n_classes: int = len(LABELS)) -> float:
    """Macro-F1 over the classes present in ``y`` or ``pred`` (fast; no sklearn overhead)."""
    cm = np.bincount(y * n_classes + pred, minlength=n_classes**2).reshape(n_classes, n_classes)
    tp, support, predicted = np.diag(cm), cm.sum(1), cm.sum(0)
    seen = (support + predicted) > 0
    f1 = 2 * tp / np.maximum(support + predicted, 1)
    return float(f1[seen].mean())


def binary_pred(probs: np.ndarray) -> np.ndarray:
    """Positive (2) when ``P(positive) > P(negative)``, else negative (0)."""
    return np.where(probs[:, POS] > probs[:, NEG], POS, NEG)


def evaluate(
    probs_md: np.ndarray, y_md: np.ndarray, probs_al: np.ndarray, y_al: np.ndarray
) -> dict[str, Any]:
    """Binary report on the multi-domain rows and three-class report on the Alexa rows."""
    return {
        "multidomain": _class_report(y_md, binary_pred(probs_md), (NEG, POS)),
        "alexa": _class_report(y_al, probs_al.argmax(1), (NEG, NEU, POS)),
    }


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER compound score in [-1, 1] per text (the lexicon baseline)."""
    from tqdm.auto import tqdm
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    return np.array(
        [sia.polarity_scores(t)["compound"] for t in tqdm(texts, desc="vader", leave=False)]
    )


def vader_baseline(
    train_md: pd.DataFrame, test_md: pd.DataFrame, train_al: pd.DataFrame, test_al: pd.DataFrame
) -> dict[str, Any]:
    """VADER with compound thresholds chosen on the training parts: one cut for the binary
    set (best accuracy), two cuts ``lo <= hi`` for Alexa (best macro-F1; neutral in between)."""
    grid = np.round(np.arange(-0.95, 0.951, 0.025), 3)
    c_tr, c_te = vader_scores(train_md["text"].tolist()), vader_scores(test_md["text"].tolist())
    y_tr = train_md["y"].to_numpy()
    cut = max(grid, key=lambda t: float(np.mean(np.where(c_tr > t, POS, NEG) == y_tr)))
    md = _class_report(test_md["y"].to_numpy(), np.where(c_te > cut, POS, NEG), (NEG, POS))

    def three(c: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return np.where(c < lo, NEG, np.where(c < hi, NEU, POS))

    a_tr, a_te = vader_scores(train_al["text"].tolist()), vader_scores(test_al["text"].tolist())
    ya = train_al["y"].to_numpy()
    best = max(
        ((lo, hi) for lo in grid for hi in grid if hi >= lo),
        key=lambda p: macro_f1(ya, three(a_tr, *p)),
    )
    al = _class_report(test_al["y"].to_numpy(), three(a_te, *best), (NEG, NEU, POS))
    return {
        "multidomain": {"threshold": float(cut), **md},
        "alexa": {"thresholds": [float(best[0]), float(best[1])], **al},
    }


# -- training on the review sets ----------------------------------------------------------------
VARIANTS: tuple[tuple[str, SentimentConfig], ...] = (("lr", SentimentConfig()),)


def _vectors(model: SentimentModel, frames: Sequence[pd.DataFrame]) -> list[np.ndarray]:
    texts = [t for f in frames for t in f["text"].tolist()]
    vecs = model.embed(texts)
    cuts = np.cumsum([0] + [len(f) for f in frames])
    return [vecs[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _fit_eval(
    encoder: Encoder,
    cfg: SentimentConfig,
    train: Sequence[pd.DataFrame],
    test: Sequence[pd.DataFrame],
) -> tuple[SentimentModel, dict[str, Any]]:
    """Fit on the concatenated ``train`` frames, report on ``test`` = (multidomain, alexa)."""
    model = SentimentModel(encoder, cfg)
    v_train, v_test = _vectors(model, train), _vectors(model, test)
    texts = [t for f in train for t in f["text"].tolist()]
    y = np.concatenate([f["y"].to_numpy() for f in train])
    t0 = time.perf_counter()
    model.fit(texts, y, vecs=np.concatenate(v_train))
    fit_s = time.perf_counter() - t0
    probs = [model.predict_proba(f["text"].tolist(), v) for f, v in zip(test, v_test, strict=True)]
    report = evaluate(probs[0], test[0]["y"].to_numpy(), probs[1], test[1]["y"].to_numpy())
    report["fit_s"] = fit_s
    return model, report


def train_default(
    settings: Settings,
    encoder: Encoder,
    variants: Sequence[tuple[str, SentimentConfig]] | None = None,
    vader: bool = True,
) -> tuple[SentimentModel, dict[str, Any]]:
    """Choose a head on validation, refit it on the training parts, report on the held-out parts.

    Held out: 20 % of the multi-domain set (stratified by domain and label) and 20 % of the
    distinct Alexa texts (stratified by class), seed ``settings.seed``. Validation: 20 % carved
    the same way from each training part. Each of ``variants`` (default :data:`VARIANTS`) is fit
    on training-minus-validation and scored by binary accuracy (multi-domain) plus macro-F1
    (Alexa) on validation; the best is refit on the whole training parts. Encoder vectors are
    cached by content hash in ``settings.artifacts_dir / "sentiment_vectors.npz"``.

    Returns
    -------
    The refit model (holding ``encoder``) and a report: split sizes, the variants with their
    validation figures, the chosen one, held-out figures, the VADER baseline, seconds.
    """
    t_start = time.perf_counter()
    seed = settings.seed
    cached = CachedEncoder(encoder, Path(settings.artifacts_dir) / "sentiment_vectors.npz")
    md, alexa = load_reviews(settings)
    md_train, md_test = split_multidomain(md, seed=seed)
    al_train, al_test = split_alexa(alexa, seed=seed)
    md_fit, md_val = split_multidomain(md_train, seed=seed)
    al_fit, al_val = split_alexa(al_train, seed=seed)
    report: dict[str, Any] = {
        "sizes": {
            name: {
                "rows": len(f),
                "per_class": {LABELS[k]: int(v) for k, v in sorted(f["y"].value_counts().items())},
            }
            for name, f in [
                ("multidomain_train", md_train),
                ("multidomain_test", md_test),
                ("multidomain_fit", md_fit),
                ("multidomain_val", md_val),
                ("alexa_train", al_train),
                ("alexa_test", al_test),
                ("alexa_fit", al_fit),
                ("alexa_val", al_val),
            ]
        },
        "alexa_rows_before_dedup": int(alexa["copies"].sum()),
        "variants": [],
    }
    t0 = time.perf_counter()
    _vectors(SentimentModel(cached), [md, alexa])  # encode everything once (cached)
    report["encode_s"] = time.perf_counter() - t0
    best: tuple[float, str, SentimentConfig] | None = None
    for name, cfg in variants or VARIANTS:
        _, val = _fit_eval(cached, cfg, [md_fit, al_fit], [md_val, al_val])
        acc, f1 = val["multidomain"]["accuracy"], val["alexa"]["macro_f1"]
        score = (acc + f1) / 2
        log.info("variant %-22s val acc %.4f  alexa macro-F1 %.4f", name, acc, f1)
        report["variants"].append(
            {
                "name": name,
                "config": asdict(cfg),
                "val_multidomain_accuracy": acc,
                "val_alexa_macro_f1": f1,
                "val_score": score,
                "fit_s": val["fit_s"],
            }
        )
        if best is None or score > best[0]:
            best = (score, name, cfg)
    assert best is not None
    report["chosen"] = best[1]
    model, test = _fit_eval(cached, best[2], [md_train, al_train], [md_test, al_test])
    report["test"] = test
    if vader:
        t0 = time.perf_counter()
        report["vader"] = vader_baseline(md_train, md_test, al_train, al_test)
        report["vader_s"] = time.perf_counter() - t0
    model.encoder = encoder
    report["seconds"] = time.perf_counter() - t_start
    return model, report


def load_or_train(settings: Settings, encoder: Encoder) -> SentimentModel:
    """The model cached under ``settings.artifacts_dir / "sentiment"``; trained when missing."""
    import json

    path = Path(settings.artifacts_dir) / ARTIFACT
    if (path / "manifest.json").is_file():
        return SentimentModel.load(path, encoder)
    model, report = train_default(settings, encoder)
    model.save(path)
    (path / "report.json").write_text(json.dumps(report, indent=2))
    log.info("sentiment model trained and saved to %s", path)
    return model
