"""``results.json`` and ``report.md`` from the runner's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shoprec.evaluation.published import BEAUTY, POPREC_FULL

RANK_COLS = ["HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20"]
BEYOND_COLS = ["coverage@10", "ILD@10", "novelty@10", "cold_NDCG@10"]
CLICK_COLS = ["click_accuracy", "click_precision", "click_recall", "click_f1", "click_auc"]


def public_results(
    dataset: str, results: dict[str, dict[str, Any]], extra: dict | None = None
) -> dict:
    """The JSON document: private (``_``) keys dropped."""
    models = {
        name: {k: v for k, v in entry.items() if not k.startswith("_")}
        for name, entry in results.items()
    }
    return {"dataset": dataset, "models": models, **(extra or {})}


def write_results(out: Path, doc: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(doc, indent=2, default=float))
    return path


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_report(doc: dict, plots: list[str]) -> str:
    """Markdown: our test table beside the published one, beyond-accuracy, click view, grids."""
    models: dict[str, dict] = doc["models"]
    parts = [f"# Offline evaluation: {doc['dataset']}", ""]
    info = doc.get("info", {})
    if info:
        parts += [
            f"{info.get('users', '?')} users, {info.get('items', '?')} items, "
            f"{info.get('interactions', '?')} interactions. Leave-one-out in sequence order, full "
            "ranking over the catalog, each user's earlier items masked (docs/benchmarks.md, "
            "offline protocol). "
            f"Command: `{info.get('command', '')}`; total {info.get('seconds', 0):.0f} s.",
            "",
        ]
    parts += ["## Test accuracy (ours)", ""]
    rows = []
    for name, m in models.items():
        rows.append(
            [f"{name} ({m.get('label', name)})" if m.get("label", name) != name else name]
            + [m["test"].get(c) for c in RANK_COLS]
            + [m.get("fit_seconds")]
        )
    parts += [_table(["model", *RANK_COLS, "fit s"], rows), ""]
    if "pop-all" in models:
        got = models["pop-all"]["test"]
        diff = max(abs(got[k] - v) for k, v in POPREC_FULL.items())
        verdict = "reproduced" if diff <= 0.0002 else "NOT reproduced"
        parts += [
            "**Protocol check.** `pop-all` counts popularity over all interactions, test items "
            "included (a leak, never a baseline). The published PopRec row is "
            f"{verdict}: largest difference {diff:.4f} over HR/NDCG@5/10/20 (tolerance 0.0002).",
            "",
        ]
    if doc["dataset"] == "amazon-beauty":
        parts += ["## Published results on the same split (full ranking)", ""]
        rows = [[k, *v[:4], v[4]] for k, v in BEAUTY.items()]
        parts += [_table(["model", "HR@10", "NDCG@10", "HR@20", "NDCG@20", "source"], rows), ""]
    parts += ["## Beyond accuracy (test, top-10 lists)", ""]
    parts += [
        "Coverage: share of the catalog in any top-10; ILD: mean pairwise cosine distance of the "
        "items' text vectors; novelty: mean -log2 popularity; cold: users whose test item has at "
        "most 5 training interactions.",
        "",
    ]
    rows = [
        [n, *[m["test"].get(c) for c in BEYOND_COLS], m["test"].get("cold_users")]
        for n, m in models.items()
    ]
    parts += [_table(["model", *BEYOND_COLS, "cold users"], rows), ""]
    parts += ["## Click-prediction view (test)", ""]
    parts += [
        "Per user: the true next item and one item drawn uniformly from those the user never "
        "touched; each is scored by its percentile in the user's masked ranking; the threshold "
        "is picked on validation.",
        "",
    ]
    rows = [[n, *[m["test"].get(c) for c in CLICK_COLS]] for n, m in models.items()]
    parts += [_table(["model", "accuracy", "precision", "recall", "F1", "AUC"], rows), ""]
    parts += ["## Tuning on validation", ""]
    for name, m in models.items():
        if m.get("grid"):
            parts += [f"**{name}**: chosen `{json.dumps(m['params'])}`", ""]
            rows = [
                [json.dumps(g["params"]), g["valid_NDCG@10"], g["fit_seconds"]] for g in m["grid"]
            ]
            parts += [_table(["params", "valid NDCG@10", "fit s"], rows), ""]
        if m.get("training"):
            t = m["training"]
            parts += [
                f"**{name} training**: best epoch {t['best_epoch']}, valid NDCG@10 "
                f"{t['best_valid_ndcg10']:.4f}, {t['seconds_per_epoch']:.1f} s/epoch (median), "
                f"{len(t['epoch_loss'])} epochs run.",
                "",
            ]
    for extra_section in doc.get("sections", []):
        parts += [extra_section, ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(parts)
