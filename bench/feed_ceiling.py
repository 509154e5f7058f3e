"""The closed-loop ratio of Done-when 1 (issue 4) over real HTTP, with the feed's bounds beside
it: one server process answers the home feed with the full pipeline, with the sequence model
only, and with a fixed answer (see ``inprocess.bare_feeds``), switched between rounds; each
closed loop runs beside ``/healthz`` of the same process in the same minutes.

    .venv/bin/python bench/feed_ceiling.py [--dataset amazon-beauty] [--rounds 3] [--seconds 10]

The server is a child process (uvicorn as ``shoprec serve`` runs it: one process, one BLAS
thread, the built engine settled); the load comes from this process through
``bench/loadgen.py`` (32 keep-alive connections), as in ``bench/serving.py``. Writes
``bench/results/feed_ceiling.json`` and ``.md``. The quick preset is trained on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from serving import OUT, closed_loop, free_port, write_report  # noqa: E402  (bench/ is not a package)

from shoprec.serving.process import wait_healthy  # noqa: E402

MODES = ("full", "model-only", "stubbed")


def serve(dataset: str, port: int) -> None:
    """The child: the quick engine's app, plus ``POST /bench/feed/{mode}`` to switch feeds."""
    import uvicorn
    from inprocess import bare_feeds, quick_engine

    from shoprec.serving import degrade, heap
    from shoprec.serving.app import create_app
    from shoprec.settings import Settings

    with quick_engine(dataset) as (data, engine):
        feeds = {"full": engine.recommend, **bare_feeds(engine, data.users.to_list()[0])}
        app = degrade.install(create_app(engine))

        @app.post("/bench/feed/{mode}")
        async def switch(mode: str) -> dict:
            engine.recommend = feeds[mode]  # type: ignore[method-assign]
            return {"feed": mode}

        heap.settle()  # as `shoprec serve` does
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            limit_concurrency=Settings().max_concurrency,
        )


def start(dataset: str, port: int) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--serve", str(port), "--dataset", dataset]
    proc = subprocess.Popen(cmd, env={**os.environ, "SHOPREC_THREADS": "1"})
    return wait_healthy(proc, port)  # the quick preset trains on first use: minutes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.dataset, args.serve)
        return
    from shoprec.data.datasets import load_dataset

    users = load_dataset(args.dataset).users.to_list()
    port = free_port()
    proc = start(args.dataset, port)
    rounds: list[dict] = []
    try:

        def feed() -> str:
            return f"/v1/users/{random.choice(users)}/recommendations?n=20"

        closed_loop(port, feed, 4, 5)  # warm-up
        for r in range(args.rounds):
            row: dict = {}
            for mode in MODES:
                httpx.post(f"http://127.0.0.1:{port}/bench/feed/{mode}").raise_for_status()
                row[mode] = closed_loop(port, feed, 32, args.seconds)
            row["trivial"] = closed_loop(port, lambda: "/healthz", 32, args.seconds)
            for mode in MODES:
                row[f"ratio {mode}"] = row[mode]["rps"] / row["trivial"]["rps"]
            rounds.append(row)
            print(
                f"round {r + 1}: trivial {row['trivial']['rps']:.0f} req/s; "
                + ", ".join(
                    f"{m} {row[m]['rps']:.0f} ({100 * row[f'ratio {m}']:.0f}%, "
                    f"{row[m]['errors']} errors)"
                    for m in MODES
                ),
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(60)
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    res = {"dataset": args.dataset, "when": stamp, "seconds": args.seconds, "rounds": rounds}
    OUT.mkdir(exist_ok=True)
    (OUT / "feed_ceiling.json").write_text(json.dumps(res, indent=2))
    lines = [
        f"# The home feed's closed-loop ratio and its bounds ({args.dataset}, one server process)",
        "",
        f"Command: `.venv/bin/python bench/feed_ceiling.py --rounds {args.rounds} "
        f"--seconds {args.seconds:g}` ({stamp}; 32 connections, {args.seconds:g} s per loop).",
        "",
        "| round | `/healthz` | full pipeline | sequence model only | fixed answer |",
        "|---|---|---|---|---|",
    ]
    for r, row in enumerate(rounds, 1):
        cells = [f"{row[m]['rps']:.0f} req/s = {100 * row[f'ratio {m}']:.0f}%" for m in MODES]
        lines.append(f"| {r} | {row['trivial']['rps']:.0f} req/s | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    write_report(OUT / "feed_ceiling.md", text)
    print(text)


if __name__ == "__main__":
    main()
