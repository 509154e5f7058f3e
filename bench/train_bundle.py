"""Issue 21: ``shoprec train --store`` at Amazon Beauty's size. Beauty's interactions are
imported into a fresh folder store, then three bundles are trained from it with the quick
preset: the first (always published), the same again (the gate must pass it: same data, same
seeds), and one trained on a tenth of the shoppers (the gate must refuse it). Wall and CPU
seconds, each run's stage seconds, peak memory and the held-out figures are written to
``bench/results/train_bundle.json`` and ``.md``.

    SHOPREC_DATA_DIR=/work/shared/data SHOPREC_TEXT_CACHE=... \\
        .venv/bin/python bench/train_bundle.py --store /tmp/beauty-store [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import time
from pathlib import Path

from shoprec.data.datasets import load_dataset
from shoprec.serving.build import import_events
from shoprec.settings import Settings
from shoprec.store import open_embedded
from shoprec.training.bundle_job import train_bundle

OUT = Path(__file__).parent / "results"
NOTES = """Wall seconds follow the machine's load more than the work (CPU seconds are the
process's own). The hold-out stage scores the served pipeline's first feed page of each
held-out shopper once per bundle (the first run has no served bundle to score). The same data
trained again gives the same bundle figures (same seeds), so the gate passes it; a tenth of the
shoppers loses a third of the held-out NDCG@10 and is refused, the published bundle stays."""


def _import(store: Path, settings: Settings) -> int:
    data = load_dataset("amazon-beauty", settings)
    events, items = open_embedded(store, "os")
    try:
        items.upsert(data.catalog, 0.0)
        evs = import_events(data)
        for k in range(0, len(evs), 20_000):
            events.append(evs[k : k + 20_000])
    finally:
        events.close()
        items.close()
    return len(evs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True, help="a scratch folder (emptied)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="SASRec budget per run")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    shutil.rmtree(args.store, ignore_errors=True)
    settings = Settings(artifacts_dir=args.store / "artifacts")
    t = time.perf_counter()
    n_events = _import(args.store, settings)
    runs = [{"import_seconds": round(time.perf_counter() - t, 1), "events": n_events}]
    for label, fraction in (("first", 1.0), ("same data again", 1.0), ("a tenth", 0.1)):
        t, c = time.perf_counter(), time.process_time()
        r = train_bundle(
            args.store,
            settings,
            quick=True,
            max_seconds=args.max_seconds,
            fraction=fraction,
            progress=False,
        )
        runs.append(
            {
                "run": label,
                "version": r.version,
                "decision": r.decision,
                "reason": r.reason,
                "heldout": r.heldout,
                "stage_seconds": r.manifest["stage_seconds"],
                "wall_s": round(time.perf_counter() - t, 1),
                "cpu_s": round(time.process_time() - c, 1),
                "load_avg": os.getloadavg(),
            }
        )
        print(json.dumps(runs[-1]), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    doc = {"runs": runs, "peak_rss_mb": round(peak), "cpus": os.cpu_count()}
    OUT.mkdir(exist_ok=True)
    (OUT / "train_bundle.json").write_text(json.dumps(doc, indent=2))
    lines = [
        "# `train --store` on Amazon Beauty (quick preset)",
        "",
        f"`bench/train_bundle.py --max-seconds {args.max_seconds:g}`; {n_events} events imported "
        f"in {runs[0]['import_seconds']} s; peak RSS {doc['peak_rss_mb']} MB; {os.cpu_count()} "
        "cores shared with other work (load averages per run below).",
        "",
        "| run | decision | held-out rule | shoppers | new NDCG@10 | served NDCG@10 | wall s "
        "| CPU s | stages (s) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs[1:]:
        h = r["heldout"]
        served = "-" if h["served"] is None else f"{h['served']['NDCG@10']:.4f}"
        stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stage_seconds"].items())
        load = "/".join(f"{v:.1f}" for v in r["load_avg"])
        lines.append(
            f"| {r['run']} | {r['decision']} | {h['rule']} | {h['shoppers']} "
            f"| {h['new']['NDCG@10']:.4f} | {served} | {r['wall_s']} | {r['cpu_s']} "
            f"| {stages} | {load} |"
        )
    lines += ["", NOTES]
    (OUT / "train_bundle.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
