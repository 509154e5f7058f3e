"""Figures of the sentiment model: binary accuracy on the Multi-Domain set, three-class
macro-F1 on Alexa, and the VADER lexicon baseline with cuts chosen on training data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shoprec.nlp.sentiment.model import LABELS, NEG, NEU, POS


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


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the three classes present in ``y`` or ``pred`` (fast, for grid searches)."""
    cm = np.bincount(y * 3 + pred, minlength=9).reshape(3, 3)
    denom = cm.sum(0) + cm.sum(1)
    return float(np.mean(2 * np.diag(cm)[denom > 0] / denom[denom > 0]))


def vader_baseline(
    md: Sequence[pd.DataFrame] | None, alexa: Sequence[pd.DataFrame]
) -> dict[str, Any]:
    """VADER compound score with cuts chosen on the training parts (``md`` and ``alexa`` are
    (train, test) pairs): one cut for the binary set (best accuracy), two for Alexa (best
    macro-F1; neutral in between). ``md=None`` reports Alexa only."""
    from tqdm.auto import tqdm
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()

    def compound(frame: pd.DataFrame) -> np.ndarray:
        texts = tqdm(frame["text"], desc="vader", leave=False)
        return np.array([sia.polarity_scores(t)["compound"] for t in texts])

    grid = np.round(np.arange(-0.95, 0.951, 0.025), 3)
    out: dict[str, Any] = {}
    if md is not None:
        (c_tr, c_te), ys = map(compound, md), [f["y"].to_numpy() for f in md]
        cut = max(grid, key=lambda t: float(np.mean(np.where(c_tr > t, POS, NEG) == ys[0])))
        out["multidomain"] = class_report(ys[1], np.where(c_te > cut, POS, NEG), (NEG, POS))
        out["multidomain"]["cuts"] = [float(cut)]

    def three(c: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return np.where(c < lo, NEG, np.where(c < hi, NEU, POS))

    (c_tr, c_te), ys = map(compound, alexa), [f["y"].to_numpy() for f in alexa]
    pairs = [(lo, hi) for lo in grid for hi in grid if hi >= lo]
    lo, hi = max(pairs, key=lambda p: macro_f1(ys[0], three(c_tr, *p)))
    out["alexa"] = class_report(ys[1], three(c_te, lo, hi), (NEG, NEU, POS))
    out["alexa"]["cuts"] = [float(lo), float(hi)]
    return out
