"""Beyond-accuracy (coverage, novelty, diversity) and click-prediction metrics. Pure numpy; each
function documents its inputs. The ranking metrics (target ranks, HR, NDCG) are in
:mod:`shoprec.models.rank_metrics`: training early-stops on them too."""

from __future__ import annotations

import numpy as np


def catalog_coverage(top_ids: np.ndarray, n_items: int) -> float:
    """Share of the catalog that appears in at least one top-k list; ``top_ids`` (U, k)."""
    return float(len(np.unique(top_ids[top_ids > 0]))) / max(n_items, 1)


def novelty(top_ids: np.ndarray, item_counts: np.ndarray, n_users: int) -> float:
    """Mean self-information ``-log2(p(i))`` of recommended items, ``p(i) = count / n_users``.

    ``item_counts`` (n_items + 1,) from training; unseen items count as 1 (smoothing).
    """
    p = np.maximum(item_counts[top_ids], 1) / max(n_users, 1)
    return float(np.mean(-np.log2(np.minimum(p, 1.0))))


def intra_list_diversity(top_ids: np.ndarray, item_vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance ``1 - cos`` within each list, averaged over lists.

    ``item_vectors`` (n_items + 1, D), rows L2-normalised (zero rows count as distance 1).
    """
    v = item_vectors[top_ids]  # (U, k, D)
    sims = np.einsum("ukd,ujd->ukj", v, v)
    k = top_ids.shape[1]
    if k < 2:
        return 0.0
    iu = np.triu_indices(k, 1)
    return float(np.mean(1.0 - sims[:, iu[0], iu[1]]))


def binary_classification(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 at ``threshold`` (score >= threshold -> positive) and AUC
    (NaN when ``y_true`` holds a single class)."""
    from sklearn.metrics import roc_auc_score

    y_pred = y_score >= threshold
    y = y_true.astype(bool)
    tp = float(np.sum(y_pred & y))
    fp = float(np.sum(y_pred & ~y))
    fn = float(np.sum(~y_pred & y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(y_pred == y)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc": float(roc_auc_score(y, y_score)) if 0 < y.sum() < len(y) else float("nan"),
    }


def best_threshold(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """The threshold among the observed scores that maximises accuracy (ties: the lowest)."""
    order = np.argsort(-y_score, kind="stable")
    s, y = y_score[order], y_true[order].astype(np.float64)
    # predicting the first j as positive: correct = pos among first j + neg after j
    tp = np.concatenate([[0.0], np.cumsum(y)])
    neg_after = np.sum(1 - y) - np.concatenate([[0.0], np.cumsum(1 - y)])
    correct = tp + neg_after
    # only cut between distinct scores
    valid = np.concatenate([[True], s[1:] != s[:-1], [True]])
    masked = np.where(valid, correct, -1.0)
    j = int(len(masked) - 1 - np.argmax(masked[::-1]))  # the last best cut = the lowest threshold
    if j == 0:
        return float(s[0]) + 1.0
    return float(s[j - 1])
