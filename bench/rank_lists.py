"""Issue 24, Done-when 2: does the ranker earn its place on a caller's list? Over Amazon Beauty
(leave-one-out), each test shopper's list is the test item plus 99 random items they never
took; it is ordered by ``POST /v1/rank``'s logic (:func:`shoprec.ranking.rank_list.rank_list`
over the served final phase: the candidate features, the ranker, the re-rank) and by the
sequence model's scores alone on the same list; HR@10 and NDCG@10 of both, with the ranker
without its re-rank beside them.

    SHOPREC_DATA_DIR=/work/shared/data SHOPREC_ARTIFACTS_DIR=... SHOPREC_TEXT_CACHE=... \\
        .venv/bin/python bench/rank_lists.py [--users 0] [--seed 0]

The served pipeline is fitted offline as ``shoprec evaluate --models pipeline`` fits it
(:func:`shoprec.ranking.fit.fit_phases` with the SASRec checkpoint's two fits, found under
``SHOPREC_ARTIFACTS_DIR``; none is trained here). ``--users N`` takes a fixed random subset
of N test shoppers (0: all). Writes ``bench/results/rank_lists.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results"
LIST_LEN, NEGATIVES, K = 100, 99, 10
#: The settings a run reads from the environment (named in the report's command).
ENV = ("SHOPREC_DATA_DIR", "SHOPREC_ARTIFACTS_DIR", "SHOPREC_TEXT_CACHE")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("Model name"))
        return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def sample_lists(
    histories: list[np.ndarray], targets: np.ndarray, n_items: int, users: np.ndarray, seed: int
) -> np.ndarray:
    """``(U, 100)`` catalog ids: the test item and 99 items the shopper never took, sampled
    uniformly without repeats, in a random order (ties cannot favour the test item)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(users), LIST_LEN), np.int64)
    for row, u in enumerate(users.tolist()):
        taken = set(histories[u].tolist()) | {int(targets[u])}
        negs: list[int] = []
        while len(negs) < NEGATIVES:
            for j in rng.integers(1, n_items + 1, 2 * NEGATIVES).tolist():
                if j not in taken and len(negs) < NEGATIVES:
                    taken.add(j)
                    negs.append(j)
        out[row] = rng.permutation(np.r_[targets[u], negs])
    return out


def metrics(ranks: np.ndarray) -> dict[str, float]:
    """HR@10 and NDCG@10 from the test item's 0-based ranks."""
    hit = ranks < K
    return {
        "hr@10": float(hit.mean()),
        "ndcg@10": float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=0, help="fixed random subset (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dataset", default="amazon-beauty", help="a smoke run: synthetic")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    from shoprec.data.datasets import load_dataset
    from shoprec.data.splits import leave_one_out
    from shoprec.online.tags import ItemTagger
    from shoprec.ranking.fit import fit_phases, offline_catalog, request
    from shoprec.ranking.pipeline import Pipeline
    from shoprec.ranking.rank_list import rank_list
    from shoprec.ranking.strategy import Strategy
    from shoprec.settings import Settings
    from shoprec.text.encoder import TextEncoder
    from shoprec.training.sasrec_job import (
        BEST_CONFIG,
        checkpoint_dir,
        find_checkpoint,
        text_vectors_for,
    )

    t0 = time.perf_counter()
    settings = Settings()
    data = load_dataset(args.dataset, settings)
    where = checkpoint_dir(settings, data.name, "sasrec")
    trained = find_checkpoint(where, data, BEST_CONFIG)
    if trained is None:
        sys.exit(f"no SASRec checkpoint for this data and config at {where}")
    text = text_vectors_for(data, settings, progress=False)
    assert text is not None
    catalog = offline_catalog(data, text, ItemTagger(TextEncoder()))
    _, final = fit_phases(data, catalog, trained.valid, trained.final, seed=settings.seed)
    fitted_s = time.perf_counter() - t0
    split = leave_one_out(data.sequences, data.timestamps)
    histories, times = split.test_histories(), split.test_times()
    targets = split.test
    all_users = np.flatnonzero([len(h) > 0 for h in histories])
    rng = np.random.default_rng(args.seed)
    users = all_users
    if args.users and args.users < len(all_users):
        users = np.sort(rng.choice(all_users, args.users, replace=False))
    lists = sample_lists(histories, targets, data.n_items, users, args.seed + 1)

    bundle, trending = final.bundle, final.trending
    assert bundle.encoder is not None and bundle.ranker is not None
    pipeline = Pipeline(catalog, Strategy())
    variants = {"rank": Strategy(), "rank-norerank": replace(Strategy(), rerank=False)}
    ranks = {name: np.zeros(len(users), np.int64) for name in ["sasrec", *variants]}
    seconds = {name: np.zeros(len(users)) for name in variants}
    in_history = 0
    # one BLAS thread, as one server process answers a request: MMR's small products slow
    # down several fold when threaded BLAS competes for a busy machine's cores
    limit = threadpool_limits(1, "blas")
    for row, u in enumerate(users.tolist()):
        items = lists[row]
        target = int(targets[u])
        req = request(catalog, histories[u], None if times is None else times[u], final.now)
        seq = bundle.encoder.scores(req.history, req.times)[items]
        s_t = seq[items == target][0]
        ranks["sasrec"][row] = int((seq > s_t).sum())  # ties count for the test item
        bought = np.isin(items, req.history)  # as served: what the shopper took goes last
        in_history += int(bought[items == target][0])
        for name, st in variants.items():
            t = time.perf_counter()
            res = rank_list(pipeline, bundle, trending, req, items, {"bought": bought}, st)
            seconds[name][row] = time.perf_counter() - t
            order = [r.index for r in res.items]
            ranks[name][row] = order.index(target)
        if row and row % 2000 == 0:
            print(f"{row}/{len(users)} shoppers", {k: metrics(v[:row]) for k, v in ranks.items()})
    limit.restore_original_limits()
    total_s = time.perf_counter() - t0
    result = {
        "dataset": data.name,
        "checkpoint": str(where),
        "shoppers": int(len(users)),
        "test_shoppers": int(len(all_users)),
        "subset_seed": args.seed if len(users) < len(all_users) else None,
        "list": f"the test item + {NEGATIVES} random items the shopper never took",
        "test_item_in_history": in_history,
        "metrics": {name: metrics(r) for name, r in ranks.items()},
        # the lists one order hit in the top 10 and the other missed (a paired comparison)
        "hit_only_by": {
            "rank": int(((ranks["rank"] < K) & (ranks["sasrec"] >= K)).sum()),
            "sasrec": int(((ranks["sasrec"] < K) & (ranks["rank"] >= K)).sum()),
        },
        "ms_per_list": {
            name: {
                "median": float(np.median(s) * 1e3),
                "p99": float(np.quantile(s, 0.99) * 1e3),
            }
            for name, s in seconds.items()
        },
        "fit_seconds": round(fitted_s, 1),
        "total_seconds": round(total_s, 1),
        "cpu": cpu_model(),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = "rank_lists" if args.dataset == "amazon-beauty" else f"rank_lists_{data.name}"
    (OUT / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / f"{stem}.md").write_text(report(result, sys.argv[1:]))
    print(json.dumps(result["metrics"], indent=2))


def command(argv: list[str]) -> str:
    """The command line that reproduces this run, with the settings it read."""
    env = [f"{k}={os.environ[k]}" for k in ENV if k in os.environ]
    return " ".join([*env, ".venv/bin/python", "bench/rank_lists.py", *argv])


def report(r: dict, argv: list[str]) -> str:
    m, ms = r["metrics"], r["ms_per_list"]
    who = (
        f"a fixed random subset of {r['shoppers']:,} of the {r['test_shoppers']:,} test "
        f"shoppers (seed {r['subset_seed']})"
        if r["subset_seed"] is not None
        else f"all {r['shoppers']:,} test shoppers"
    )
    rows = {
        "sasrec": "sequence model's scores alone",
        "rank": "`/v1/rank` logic (features, ranker, re-rank)",
        "rank-norerank": "`/v1/rank` logic, re-rank off (ranker order)",
    }
    lines = [
        f"# A caller's list re-ranked: `/v1/rank` vs the sequence model alone ({r['dataset']})",
        "",
        f"Command: `{command(argv)}`",
        f"({r['when']}, {r['cpu']}; SASRec checkpoint `{r['checkpoint']}`).",
        "",
        f"Shoppers: {who}. Each list: {r['list']}, shuffled; the served final phase "
        "(`ranking.fit.fit_phases`: item-kNN and trending on train + valid, the ranker fitted on "
        "validation replays) orders it as `POST /v1/rank` does; items the shopper took are "
        f"moved to the end as served (the test item was one of them for "
        f"{r['test_item_in_history']} shoppers). Ties in the sequence model's scores count "
        "against the test item.",
        "",
        "| order | HR@10 | NDCG@10 | ms per list (median / p99) |",
        "|---|---|---|---|",
    ]
    for name, label in rows.items():
        t = ms.get(name)
        speed = f"{t['median']:.2f} / {t['p99']:.2f}" if t else "-"
        lines.append(f"| {label} | {m[name]['hr@10']:.4f} | {m[name]['ndcg@10']:.4f} | {speed} |")
    gain = m["rank"]["hr@10"] - m["sasrec"]["hr@10"]
    only = r.get("hit_only_by")
    paired = ""
    if only:
        z = (only["rank"] - only["sasrec"]) / max(1.0, (only["rank"] + only["sasrec"]) ** 0.5)
        paired = (
            f" Paired: the re-ranked list alone has the test item in its top 10 for "
            f"{only['rank']} shoppers, the sequence model's alone for {only['sasrec']} "
            f"(McNemar z = {z:.2f})."
        )
    verdict = "meets" if gain >= 0 else "does NOT meet"
    lines += [
        "",
        f"HR@10 of the re-ranked lists minus the sequence model's: {gain:+.4f}: this {verdict} "
        "issue 24's Done-when 2 (the ranker earns its place on caller lists: HR@10 >= the "
        "sequence model's alone)." + paired,
        "",
        f"Fitting the served pipeline took {r['fit_seconds']} s; the whole run "
        f"{r['total_seconds']} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
