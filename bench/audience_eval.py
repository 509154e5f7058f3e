"""Audience precision on Amazon Beauty with every user's last interaction held out.

For each of the 20 largest (zero-shot) categories, the audience is the 200 shoppers the
sequence model (`shoprec train` checkpoint, trained without the held-out items) gives the
highest probability of buying there next; precision is the share whose held-out item is in the
category. Baselines in the same run: the most active shoppers (popularity audience) and the
shoppers with the most past purchases in the category (affinity audience).

    .venv/bin/python bench/audience_eval.py
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from shoprec.data.datasets import load_dataset
from shoprec.data.splits import leave_one_out
from shoprec.models.sasrec_recommender import SASRecRecommender
from shoprec.online.tags import ItemTagger, tags_for_catalog
from shoprec.settings import Settings
from shoprec.text.encoder import TextEncoder
from shoprec.training.sasrec_job import checkpoint_dir, text_vectors_for

OUT = Path(__file__).parent / "results"
N_CATEGORIES, AUDIENCE = 20, 200


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = Settings()
    data = load_dataset("amazon-beauty", settings)
    split = leave_one_out(data.sequences, data.timestamps)
    model = SASRecRecommender.load(checkpoint_dir(settings, data.name, "sasrec"))
    text = text_vectors_for(data, settings, progress=False)
    tags = tags_for_catalog(data.catalog, text[1:], ItemTagger(TextEncoder()))
    leaf = np.array([""] + [t.category or "" for t in tags], dtype=object)
    hist, times = split.test_histories(), split.test_times()
    users = np.concatenate(
        [
            model.user_vectors(hist[s : s + 4096], times[s : s + 4096])
            for s in range(0, len(hist), 4096)
        ]
    )
    logits = users @ model.items_[1:].T / model.config.temperature  # (U, I)
    log_z = logsumexp(logits, axis=1)
    truth = split.test
    activity = np.array([len(h) for h in hist])
    names, counts = np.unique(leaf[1:][leaf[1:] != ""], return_counts=True)
    rows = []
    for name in names[np.argsort(-counts)][:N_CATEGORIES]:
        items = np.flatnonzero(leaf == name)  # internal ids
        in_cat = np.isin(truth, items)
        p_model = logsumexp(logits[:, items - 1], axis=1) - log_z
        past = np.array([np.isin(h, items).sum() for h in hist])
        picks = {
            "model": np.argsort(-p_model, kind="stable")[:AUDIENCE],
            "popularity": np.argsort(-activity, kind="stable")[:AUDIENCE],
            "affinity": np.lexsort((-activity, -past))[:AUDIENCE],
        }
        row = {"category": name, "items": len(items), "base_rate": float(in_cat.mean())}
        row |= {k: float(in_cat[v].mean()) for k, v in picks.items()}
        rows.append(row)
        logging.info("%s", row)
    mean = {
        k: float(np.mean([r[k] for r in rows]))
        for k in ("model", "popularity", "affinity", "base_rate")
    }
    res = {
        "audience": AUDIENCE,
        "categories": rows,
        "mean_precision": mean,
        "model_over_popularity": mean["model"] / max(mean["popularity"], 1e-9),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "audience.json").write_text(json.dumps(res, indent=2))
    md = [
        "# Audience precision (Amazon Beauty, last interaction held out)",
        "",
        "Command: `.venv/bin/python bench/audience_eval.py`. Audience: the top "
        f"{AUDIENCE} shoppers per category; precision = share whose held-out item is in it.",
        "",
        "| category | items | base rate | model | popularity | affinity |",
        "|---|---|---|---|---|---|",
    ]
    md += [
        f"| {r['category']} | {r['items']} | {r['base_rate']:.3f} | {r['model']:.3f} | "
        f"{r['popularity']:.3f} | {r['affinity']:.3f} |"
        for r in rows
    ]
    md += [
        f"| **mean** | | {mean['base_rate']:.3f} | **{mean['model']:.3f}** | "
        f"{mean['popularity']:.3f} | {mean['affinity']:.3f} |",
        "",
        f"Model / popularity audience: **{res['model_over_popularity']:.1f}x**.",
    ]
    (OUT / "audience.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
