"""Per-shop tuning on Amazon Beauty: ``tune_sasrec`` for a budget from the Beauty-chosen default,
then the chosen settings trained (valid fit, refit, calibration: ``train_sasrec``) with several
seeds and scored on test (NDCG@10, full ranking, histories masked).

    SHOPREC_DATA_DIR=/work/shared/data SHOPREC_ARTIFACTS_DIR=/tmp/tuneart \\
        python bench/tune_beauty.py --budget 30m --seeds 3

Writes bench/results/tuning.{md,json,png}, rewritten after each seed (a run cut short keeps
what it finished).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shoprec.data.datasets import load_dataset  # noqa: E402
from shoprec.data.interactions import SequenceData  # noqa: E402
from shoprec.data.splits import LeaveOneOut, leave_one_out  # noqa: E402
from shoprec.models import rank_metrics as R  # noqa: E402
from shoprec.models.sasrec import SASRecConfig  # noqa: E402
from shoprec.models.sasrec_recommender import SASRecRecommender  # noqa: E402
from shoprec.models.scoring import mask_histories  # noqa: E402
from shoprec.models.validation import score_batch  # noqa: E402
from shoprec.settings import Settings  # noqa: E402
from shoprec.training.sasrec_job import text_vectors_for, train_sasrec  # noqa: E402
from shoprec.training.tuning import parse_duration, tune_sasrec  # noqa: E402

OUT = Path(__file__).parent / "results"
#: The published best on Beauty (WEARec), one seed.
PUBLISHED = 0.0614


def _plot(t: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    best = float("-inf")
    xs, ys = [], []
    for r in t["trials"]:
        end = (r["start_s"] or 0) + (r["seconds"] or 0)
        curve = r["valid_by_epoch"]
        last = r["value"] if r["value"] is not None else (list(curve.values()) or [None])[-1]
        if last is None:
            continue
        style = {"complete": "o", "pruned": "x"}.get(r["state"], ".")
        ax.plot(end / 60, last, style, color="C0" if r["number"] else "C3")
        if r["value"] is not None:
            best = max(best, r["value"])
            xs.append(end / 60)
            ys.append(best)
    ax.step(xs, ys, where="post", color="C2", label="best so far")
    ax.axhline(t["default_valid_NDCG@10"], color="C3", ls="--", label="default (trial 0)")
    ax.set_xlim(left=0)
    ax.set_xlabel("minutes since the start of tuning (trial end)")
    ax.set_ylabel("validation NDCG@10")
    ax.set_title("SASRec tuning on Amazon Beauty (o complete, x pruned)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write(doc: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tuning.json").write_text(json.dumps(doc, indent=1))
    _plot(doc["tuning"], out / "tuning.png")
    t = doc["tuning"]
    states = [r["state"] for r in t["trials"]]
    lines = [
        "# Per-shop tuning of the sequence model on Amazon Beauty",
        "",
        f"Command: `{doc['command']}` (2 shared cores, load average {doc['load']}); "
        f"{doc['shoppers']} shoppers, {doc['items']} items.",
        "",
        *([doc["note"], ""] if doc.get("note") else []),
        f"- Budget {t['budget_s'] / 60:.0f} min; tuning took {t['seconds'] / 60:.1f} min; "
        f"{len(states)} trials: {states.count('complete')} complete, "
        f"{states.count('pruned')} pruned.",
        f"- Validation NDCG@10 (text lift chosen): default (trial 0) "
        f"{t['default_valid_NDCG@10']:.4f}, chosen (trial {t['best_trial']}) "
        f"{t['best_valid_NDCG@10']:.4f}.",
        f"- Chosen settings: `{json.dumps(doc['chosen_params'])}`.",
        "",
        "| trial | state | valid NDCG@10 | epochs | stopped | minutes | params |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in t["trials"]:
        v = "" if r["value"] is None else f"{r['value']:.4f}"
        lines.append(
            f"| {r['number']} | {r['state']} | {v} | {r.get('epochs', '')} | "
            f"{r.get('stopped', '')} | {(r['seconds'] or 0) / 60:.1f} | "
            f"`{json.dumps(r['params'])}` |"
        )
    seeds = doc["seeds"]
    lines += ["", "## The chosen settings, trained and scored on test per seed", ""]
    lines += [
        "| seed | test NDCG@10 | test HR@10 | valid NDCG@10 | minutes |",
        "|---|---|---|---|---|",
    ]
    for s in seeds:
        lines.append(
            f"| {s['seed']} | {s['test_NDCG@10']:.4f} | {s['test_HR@10']:.4f} | "
            f"{s['valid_NDCG@10']:.4f} | {s['seconds'] / 60:.1f} |"
        )
    if seeds:
        summary = doc["test_NDCG@10"]
        lines += [
            "",
            f"Test NDCG@10 over {len(seeds)} seed(s): mean {summary['mean']:.4f}, "
            f"standard deviation {summary['std']:.4f}, range {summary['min']:.4f}-"
            f"{summary['max']:.4f} (the published best, WEARec's {PUBLISHED}, is one seed).",
        ]
    lines += ["", "![trials](tuning.png)", ""]
    (out / "tuning.md").write_text("\n".join(lines))


def _test_ranks(model: SASRecRecommender, split: LeaveOneOut) -> np.ndarray:
    """0-based rank of every shopper's test item (full catalog, history masked)."""
    hist, targets, times = split.test_histories(), split.test, split.test_times()
    out = []
    for s in range(0, len(hist), 2048):
        sl = slice(s, s + 2048)
        users = np.arange(s + 1, s + 1 + len(hist[sl]))
        sc = score_batch(model, users, hist[sl], None if times is None else times[sl])
        out.append(R.target_ranks(mask_histories(sc, hist[sl]), targets[sl]))
    return np.concatenate(out)


def _seed_row(
    data: SequenceData,
    settings: Settings,
    split: LeaveOneOut,
    config: SASRecConfig,
    fit: SASRecRecommender | None,
) -> dict:
    """Train ``config`` (valid fit unless ``fit``, refit, calibration) and score it on test."""
    t0 = time.perf_counter()
    name = f"sasrec-tuned-{config.seed}"
    trained = train_sasrec(data, settings, config, name, progress=False, fitted=fit)
    ranks = _test_ranks(trained.final, split)
    row = {
        "seed": config.seed,
        "test_NDCG@10": R.ndcg(ranks, 10),
        "test_HR@10": R.hit_rate(ranks, 10),
        "valid_NDCG@10": trained.valid.history_.best_score,
        "seconds": time.perf_counter() - t0,
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    print(f"seed {config.seed}: {row}", flush=True)
    return row


def _summarise(doc: dict) -> None:
    vals = [s["test_NDCG@10"] for s in doc["seeds"]]
    doc["test_NDCG@10"] = {
        "mean": statistics.fmean(vals),
        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
    }
    doc["load"] = doc["seeds"][-1].get("load", doc["load"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="30m")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--dataset", default="amazon-beauty", help="(synthetic: a smoke test)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--shoppers", type=float, default=1.0, help="a random share of the shoppers (catalog kept)"
    )
    ap.add_argument(
        "--seed-list",
        help="skip tuning: train the settings chosen in --out's tuning.json with these seeds "
        "(comma-separated) and add them to it (a second process while the first runs seeds)",
    )
    ap.add_argument("--merge", action="store_true", help="add out/seeds-*.json to tuning.json")
    ap.add_argument("--note", help="--merge: a paragraph for the top of tuning.md")
    args = ap.parse_args()
    out = args.out
    if args.merge:
        doc = json.loads((out / "tuning.json").read_text())
        seen = {r["seed"] for r in doc["seeds"]}
        for extra in sorted(out.glob("seeds-*.json")):
            doc["seeds"] += [r for r in json.loads(extra.read_text()) if r["seed"] not in seen]
            doc["command"] += f"; --seed-list {extra.stem[6:]} in a second process"
        doc["seeds"].sort(key=lambda r: r["seed"])
        if args.note:
            doc["note"] = args.note
        _summarise(doc)
        _write(doc, out)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    budget = parse_duration(args.budget, "--budget")
    settings = Settings()
    data = load_dataset(args.dataset, settings).share_of_shoppers(args.shoppers)
    text = text_vectors_for(data, settings, progress=False)
    split = leave_one_out(data.sequences, data.timestamps)
    if args.seed_list:  # (its rows: out/seeds-<list>.json, merged by --merge)
        before = json.loads((out / "tuning.json").read_text())
        config = SASRecConfig(**before["tuning"]["chosen"])
        rows = []
        for seed in (int(x) for x in args.seed_list.split(",")):
            rows.append(_seed_row(data, settings, split, replace(config, seed=seed), None))
            (out / f"seeds-{args.seed_list}.json").write_text(json.dumps(rows, indent=1))
        return
    tuning = tune_sasrec(data, settings, budget, text=text)
    chosen = {r["number"]: r for r in tuning.trials}[tuning.best_trial]["params"]
    doc: dict = {
        "command": f"python bench/tune_beauty.py --budget {args.budget} --seeds {args.seeds}"
        + ("" if args.dataset == "amazon-beauty" else f" --dataset {args.dataset}")
        + ("" if args.shoppers >= 1 else f" --shoppers {args.shoppers}"),
        "shoppers": data.n_users,
        "items": data.n_items,
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "tuning": tuning.to_dict(),
        "chosen_params": chosen,
        "seeds": [],
    }
    _write(doc, out)
    for i in range(args.seeds):
        seed = tuning.config.seed + i
        fit = tuning.fit if seed == tuning.config.seed else None
        doc["seeds"].append(
            _seed_row(data, settings, split, replace(tuning.config, seed=seed), fit)
        )
        _summarise(doc)
        _write(doc, out)


if __name__ == "__main__":
    main()
