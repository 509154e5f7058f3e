"""Reason faithfulness (issue 24, Done when 5): does the history item a reason names explain
the item?

For shoppers' home feeds of 10 (the served engine, in process), every item whose lead
history-naming reason names an item of the shopper's history is a case. The named item is
read back from the reason's text (matched against the history's titles; ambiguous matches
are skipped and counted). For each case the score of the signal the reason cites is
recomputed with the named item removed from the history (every occurrence), and with a
random other history item removed, by the plain serving code (``SASRecEncoder.scores`` over
the catalog, the co-visitation source ``_covis``, the text feature), not by the attribution
under test. A case passes when the named item's removal lowers the score more. The same
cases are scored for the old answers (the latest item; the largest co-visitation
contribution), read from feeds of the same shoppers served with ``Pipeline.attribute`` off.
The feed's added cost is timed on the same shoppers, attribution on and off alternating (CPU
time per request: the machine is shared, so wall time would mostly measure waiting).

    SHOPREC_ARTIFACTS_DIR=... SHOPREC_TEXT_CACHE=... \\
        .venv/bin/python bench/reason_faithfulness.py --dataset amazon-beauty
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from shoprec.data.datasets import load_dataset
from shoprec.ranking.attribution import Anchors
from shoprec.ranking.candidates import COVIS_RECENT, TEXT_RECENT, _covis
from shoprec.ranking.explain import short
from shoprec.serving.build import build_engine
from shoprec.serving.engine import Engine
from shoprec.settings import Settings
from shoprec.training.sasrec_job import BEST_CONFIG, checkpoint_dir, find_checkpoint

RESULTS = Path(__file__).parent / "results"
#: Reason prefixes that name a history item, and the signal each cites.
KINDS = {
    "Based on your interest in": "seq",
    "Often bought with": "covis",
    "Goes with": "covis",
    "Similar to": "text",
}


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln), "?")


def named(reasons: list[str], hist: np.ndarray, title) -> tuple[str, int] | None:  # noqa: ANN001
    """(kind, history item) of the first reason that names one item of ``hist``; None when
    none does; ``("ambiguous", 0)`` when a reason's title matches several history items."""
    for r in reasons:
        kind = next((k for p, k in KINDS.items() if r.startswith(p)), None)
        if kind is None:
            continue
        hits = {
            int(h)
            for h in set(hist.tolist())
            if any(short(title(int(h)), w) in r for w in (40, 50, 60))
        }
        if len(hits) == 1:
            return kind, hits.pop()
        if len(hits) > 1:
            return "ambiguous", 0
    return None


class Scorer:
    """The score of one signal for one item under a history, by the plain serving code."""

    def __init__(self, engine: Engine) -> None:
        self.bundle = engine.bundle
        self.vectors = engine.catalog.view().head(self.bundle.n_rows).vectors

    def __call__(self, kind: str, hist: np.ndarray, times: np.ndarray | None, item: int) -> float:
        b = self.bundle
        if not len(hist):
            return 0.0 if kind != "seq" else float(b.encoder.scores(hist)[item])  # type: ignore[union-attr]
        if kind == "seq":
            return float(b.encoder.scores(hist, times)[item])  # type: ignore[union-attr]
        if kind == "covis":
            touched, score, _ = _covis(b, hist[::-1][:COVIS_RECENT])
            at = np.searchsorted(touched, item)
            return float(score[at]) if at < len(touched) and touched[at] == item else 0.0
        last = hist[::-1][:TEXT_RECENT]
        return float((self.vectors[last] @ self.vectors[item]).max())

    def drop(self, kind: str, hist: np.ndarray, times: np.ndarray | None, item: int, gone: int):  # noqa: ANN201
        keep = hist != gone
        return self(kind, hist, times, item) - self(
            kind, hist[keep], None if times is None else times[keep], item
        )


def feeds(engine: Engine, users: list[str], n: int, attribute: bool) -> tuple[dict, list[float]]:
    """Each shopper's feed (item -> reasons) and the CPU seconds each took."""
    engine.pipeline.attribute = attribute
    out, took = {}, []
    for u in users:
        t = time.process_time()  # CPU time: on a shared machine wall time is mostly waiting
        res = engine.recommend(u, n)
        took.append(time.process_time() - t)
        out[u] = {r.index: r.reasons for r in res.items}
    return out, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="the quick preset (synthetic smoke)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="reasons")
    args = ap.parse_args()
    threadpool_limits(1)  # as shoprec serve runs
    settings = Settings()
    data = load_dataset(args.dataset, settings)
    if (
        not args.quick
        and find_checkpoint(checkpoint_dir(settings, data.name, "sasrec"), data, BEST_CONFIG)
        is None
    ):
        sys.exit(f"no trained checkpoint under {settings.artifacts_dir} (SHOPREC_ARTIFACTS_DIR)")
    with tempfile.TemporaryDirectory() as store:
        built = build_engine(data, settings, store=Path(store), quick=args.quick, progress=False)
        report = run(built.engine, data, args)
    report["cpu"] = cpu_model()
    env = f"SHOPREC_ARTIFACTS_DIR={settings.artifacts_dir} SHOPREC_TEXT_CACHE={settings.text_cache}"
    report["command"] = " ".join(
        [env, ".venv/bin/python bench/reason_faithfulness.py", *sys.argv[1:]]
    )
    write(report, args.out)


def run(engine: Engine, data, args: argparse.Namespace) -> dict:  # noqa: ANN001, C901
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(data.n_users)
    scorer = Scorer(engine)
    title = engine.catalog.title
    cases: list[dict] = []
    users: list[str] = []
    new_feeds: dict[str, dict] = {}
    skipped = {"ambiguous": 0, "one distinct item": 0}
    at = 0
    while len(cases) < args.cases and at < len(order):
        batch = [data.users.external(int(u) + 1) for u in order[at : at + 50]]
        at += 50
        users += batch
        new, _ = feeds(engine, batch, args.n, True)
        new_feeds.update(new)
        old, _ = feeds(engine, batch, args.n, False)
        for u in batch:
            req = engine.request_for(engine.states.get(u))
            hist = req.history[req.history < engine.bundle.n_rows]
            times = None if req.times is None or not len(hist) else req.times[-len(hist) :]
            for item, reasons in new[u].items():
                got = named(reasons, hist, title)
                if got is None:
                    continue
                kind, h = got
                if kind == "ambiguous":
                    skipped["ambiguous"] += 1
                    continue
                others = sorted(set(hist.tolist()) - {h})
                if not others:
                    skipped["one distinct item"] += 1
                    continue
                was = named(old[u].get(item, []), hist, title)
                h_old = was[1] if was and was[0] != "ambiguous" else int(hist[-1])
                r = int(rng.choice(others))
                r_old = int(rng.choice(sorted(set(hist.tolist()) - {h_old}) or [r]))
                d = {
                    "named": scorer.drop(kind, hist, times, item, h),
                    "random": scorer.drop(kind, hist, times, item, r),
                    "old": scorer.drop(kind, hist, times, item, h_old),
                    "old_random": scorer.drop(kind, hist, times, item, r_old),
                }
                cases.append(
                    {
                        "user": u,
                        "item": item,
                        "kind": kind,
                        "named_is_latest": h == int(hist[-1]),
                        "old_is_new": h_old == h,
                        "history": len(hist),
                        **d,
                    }
                )
                if len(cases) >= args.cases:
                    break
            if len(cases) >= args.cases:
                break
    # latency: the same shoppers, attribution on and off alternating request by request
    on: list[float] = []
    off: list[float] = []
    for _ in range(3):
        for u in users:
            on += feeds(engine, [u], args.n, True)[1]
            off += feeds(engine, [u], args.n, False)[1]
    engine.pipeline.attribute = True
    # the attribution alone, CPU time: both sources for each feed's shown items
    alone: list[float] = []
    for u in users:
        req = engine.request_for(engine.states.get(u))
        hist = req.history[req.history < engine.bundle.n_rows]
        if not len(hist) or engine.bundle.encoder is None:
            continue
        shown = np.array(list(new_feeds[u]), np.int64)
        times = None if req.times is None else req.times[-len(hist) :]
        row = engine.bundle.encoder.scores(hist, times)
        t = time.process_time()
        why = Anchors(engine.bundle, req, shown, np.zeros(len(shown), np.int64), row)
        why.seq(0), why.covis(0)
        alone.append(time.process_time() - t)

    def share(rows: list[dict], a: str, b: str) -> float:
        return float(np.mean([c[a] > c[b] for c in rows])) if rows else float("nan")

    by_kind = {}
    for kind in ("seq", "covis", "text"):
        rows = [c for c in cases if c["kind"] == kind]
        by_kind[kind] = {
            "cases": len(rows),
            "share": share(rows, "named", "random"),
            "old_share": share(rows, "old", "old_random"),
            "named_is_latest": float(np.mean([c["named_is_latest"] for c in rows]))
            if rows
            else float("nan"),
        }
    ms = lambda xs, q: float(np.percentile(np.asarray(xs) * 1e3, q))  # noqa: E731
    hist_len = [c["history"] for c in cases]
    return {
        "dataset": data.name,
        "feeds": len(users),
        "n": args.n,
        "cases": len(cases),
        "share": share(cases, "named", "random"),
        "old_share": share(cases, "old", "old_random"),
        "named_is_latest": float(np.mean([c["named_is_latest"] for c in cases])),
        "changed_from_old": float(np.mean([not c["old_is_new"] for c in cases])),
        "by_kind": by_kind,
        "skipped": skipped,
        "history_len_p50_p90_max": [
            float(np.percentile(hist_len, 50)),
            float(np.percentile(hist_len, 90)),
            int(max(hist_len)),
        ],
        "latency_ms": {
            "attribution_on": {"p50": ms(on, 50), "p90": ms(on, 90), "p99": ms(on, 99)},
            "attribution_off": {"p50": ms(off, 50), "p90": ms(off, 90), "p99": ms(off, 99)},
            "added_p50": ms(on, 50) - ms(off, 50),
            "added_mean": float(np.mean(on) - np.mean(off)) * 1e3,
            "requests_each": len(on),
            "attribution_cpu_ms": {"mean": float(np.mean(alone)) * 1e3, "p99": ms(alone, 99)},
        },
    }


def write(report: dict, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    lat = report["latency_ms"]
    k = report["by_kind"]
    lines = [
        f"# Reason faithfulness ({report['dataset']}, feeds of {report['n']})",
        "",
        f"Command: `{report['command']}` (CPU: {report['cpu']}, one BLAS thread)",
        "",
        "A case: a feed item whose reason names an item of the shopper's history. It passes",
        "when removing the named item from the history lowers the score of the signal the",
        "reason cites (sequence model, co-visitation, text) more than removing a random other",
        "history item; scores recomputed by the plain serving code, not the attribution.",
        "",
        "| | cases | named beats random (new) | old answer beats random |",
        "|---|---|---|---|",
        f"| all | {report['cases']} | {report['share']:.1%} | {report['old_share']:.1%} |",
    ]
    for kind, label in (("seq", "sequence model"), ("covis", "co-visitation"), ("text", "text")):
        lines.append(
            f"| {label} | {k[kind]['cases']} | {k[kind]['share']:.1%} "
            f"| {k[kind]['old_share']:.1%} |"
        )
    lines += [
        "",
        f"Named item is the latest item in {report['named_is_latest']:.1%} of cases "
        f"(sequence-model reasons: {k['seq']['named_is_latest']:.1%}); the name changed from "
        f"the old answer in {report['changed_from_old']:.1%}. Skipped: {report['skipped']}. "
        f"History length p50 / p90 / max: {report['history_len_p50_p90_max']}.",
        "",
        "Feed cost (`engine.recommend` in process, CPU time per request) over "
        f"{report['feeds']} shoppers x 3 rounds ({lat['requests_each']} requests each way, "
        "on and off alternating):",
        "",
        "| | p50 ms | p90 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for key in ("attribution_on", "attribution_off"):
        v = lat[key]
        lines.append(
            f"| {key.replace('_', ' ')} | {v['p50']:.2f} | {v['p90']:.2f} | {v['p99']:.2f} |"
        )
    lines += [
        "",
        f"Added: {lat['added_p50']:.2f} ms at p50, {lat['added_mean']:.2f} ms on average. "
        f"The attribution alone (both sources, one feed's shown items, CPU time): "
        f"{lat['attribution_cpu_ms']['mean']:.2f} ms mean, "
        f"{lat['attribution_cpu_ms']['p99']:.2f} ms p99.",
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
