"""PNG plots of an evaluation (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shoprec.evaluation.published import BEAUTY  # noqa: E402


def _save(fig: plt.Figure, out: Path, name: str) -> str:
    """Write ``fig`` as ``out/name`` and free it; returns ``name`` for the report's link."""
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def accuracy_plot(doc: dict, out: Path) -> str:
    """Test NDCG@10 and HR@10 of our models, beside the published ones on Beauty."""
    names, ndcg, hr, ours = [], [], [], []
    for name, m in doc["models"].items():
        names.append(name)
        ndcg.append(m["test"]["NDCG@10"])
        hr.append(m["test"]["HR@10"])
        ours.append(True)
    if doc["dataset"] == "amazon-beauty":
        for name, row in BEAUTY.items():
            names.append(name)
            hr.append(row[0])
            ndcg.append(row[1])
            ours.append(False)
    order = sorted(range(len(names)), key=lambda i: ndcg[i])
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.32 * len(names) + 1.5), sharey=True)
    for ax, vals, title in ((axes[0], ndcg, "NDCG@10"), (axes[1], hr, "HR@10")):
        ax.barh(
            [names[i] for i in order],
            [vals[i] for i in order],
            color=["tab:orange" if ours[i] else "tab:gray" for i in order],
        )
        ax.set_title(f"test {title} (orange: measured here)")
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, out, "accuracy.png")


def training_plot(doc: dict, out: Path) -> str | None:
    """Loss and validation NDCG@10 per epoch for the models that report training."""
    trained = {n: m["training"] for n, m in doc["models"].items() if m.get("training")}
    if not trained:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name, t in trained.items():
        a.plot(range(1, len(t["epoch_loss"]) + 1), t["epoch_loss"], label=name)
        if t["valid"]:
            ep, sc = zip(*t["valid"], strict=True)
            b.plot(ep, sc, marker="o", label=name)
    a.set(title="training loss", xlabel="epoch")
    b.set(title="validation NDCG@10", xlabel="epoch")
    a.legend()
    b.legend()
    return _save(fig, out, "training.png")


def beyond_plot(doc: dict, out: Path) -> str:
    """Coverage, cold-start NDCG@10 and click F1 per model."""
    names = list(doc["models"])
    cols = [
        ("coverage@10", "catalog coverage@10"),
        ("cold_NDCG@10", "cold-start NDCG@10"),
        ("click_f1", "click-prediction F1"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.35 * len(names) + 1.5), sharey=True)
    for ax, (key, title) in zip(axes, cols, strict=True):
        ax.barh(names, [doc["models"][n]["test"].get(key, 0.0) for n in names], color="tab:blue")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, out, "beyond_accuracy.png")
