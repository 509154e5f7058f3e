"""Publishing a new bundle under load (issue 21, Done when 2), and the restart that follows a
publication (Done when 6), against a real ``shoprec serve``.

1. First start on a fresh embedded store with ``--dataset`` (imports it, fits the ranker on the
   sequence model's checkpoint, saves and publishes the store's first bundle); its stages kept.
2. Restart on the same store: the published bundle is loaded as is; its stages kept (no
   ``sequence model`` or ``ranker`` stage may appear).
3. A second bundle is put on the shelf: a copy of the first under a new version (the same
   shapes, so loading and aligning it costs what a retrained one does).
4. Home feeds at ``--rate`` requests/s, open loop (latency from each request's due time), for
   ``--seconds``; at ``--publish-at`` the second bundle is published (``BundleShelf.publish``,
   what ``shoprec bundles promote`` runs), and at ``--back-at`` the first one again. Every feed
   answer names its ``model_version``, so the switch is seen in the answers themselves.

Reported: failed requests (any non-200 or a body without items), the steady feed p99 (requests
due outside the switch windows) and the p99 of the requests due in the 10 s around each switch
(5 s before the first answer of the new version to 5 s after), their ratio (bound: 3x).

    SHOPREC_ARTIFACTS_DIR=/work/benchart SHOPREC_TEXT_CACHE=/work/main/artifacts/text_cache.npz \\
        .venv/bin/python bench/publish_under_load.py --dataset amazon-beauty --quick

Writes ``bench/results/publish_under_load.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import loadgen  # noqa: E402  (bench/ is not a package)

from shoprec.ranking.bundle_io import MANIFEST, new_version  # noqa: E402
from shoprec.ranking.bundle_shelf import BundleShelf  # noqa: E402
from shoprec.serving.process import stop, wait_healthy  # noqa: E402
from shoprec.settings import Settings  # noqa: E402

OUT = Path(__file__).parent / "results"
WINDOW = 5.0  # seconds either side of a switch
#: What every run below measures (the report's head).
NOTES = """`bench/publish_under_load.py`: one `shoprec serve` on an embedded store, Amazon Beauty
(quick preset, the shared artifacts). Start-up: the first start imports the dataset into the
empty store, fits the ranker on the sequence model's checkpoint, saves and publishes the first
bundle; the restart loads that bundle as is. Then home feeds, open loop (latency from each
request's due time), while a second bundle (a copy of the first under a new version: the same
load and align cost) is published, then the first again. A failed request is a non-200 or a
feed without items; the p99 "around" a switch is over the requests due 5 s either side of the
first answer naming the new version. Runs newest first; the host (2 cores) is shared with other
benchmarks, so each run gives the load average.

"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], port: int, log: Path) -> tuple[subprocess.Popen, str, float]:
    """``shoprec serve`` with its output in ``log``; (process, its ``ready in`` line, wall s)."""
    cmd = [sys.executable, "-m", "shoprec.cli", "serve", "--port", str(port), "--no-verbose"]
    env = {**os.environ, "SHOPREC_THREADS": "1"}
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd + args, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_healthy(proc, port, timeout=1800)
    took = time.perf_counter() - t0
    ready = next((ln for ln in log.read_text().splitlines() if ln.startswith("ready in")), "")
    return proc, ready, took


def second_bundle(shelf: BundleShelf) -> str:
    """A copy of the published bundle under a new version (same shapes: the same load cost)."""
    first = shelf.published()
    assert first is not None, "the first start publishes a bundle"
    version = new_version()
    tmp = shelf.root / f".tmp-{version}"
    shutil.copytree(shelf.path(first), tmp)
    manifest = json.loads((tmp / MANIFEST).read_text())
    manifest.update(version=version, created=time.time(), source=f"bench copy of {first}")
    (tmp / MANIFEST).write_text(json.dumps(manifest))
    os.replace(tmp, shelf.path(version))
    return version


async def load(
    port: int,
    users: list[str],
    rate: float,
    seconds: float,
    events: list[tuple[float, callable]],  # type: ignore[valid-type]
) -> list[tuple[float, float, bool, str]]:
    """Open-loop feeds; per request (due offset s, latency s, ok, model_version). ``events``:
    (offset s, function) run at that offset in a thread (the publications)."""
    rng = random.Random(0)
    idle: list[loadgen.Connection] = []
    rows: list[tuple[float, float, bool, str]] = []

    async def one(t0: float, due: float, path: str) -> None:
        conn = idle.pop() if idle else loadgen.Connection("127.0.0.1", port)
        version, ok = "", False
        try:
            status, body = await conn.request("GET", path)
            if status == 200:
                doc = json.loads(body)
                ok, version = bool(doc["items"]), doc["model_version"]
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        rows.append((due - t0, time.perf_counter() - due, ok, version))
        if conn.writer is not None:
            idle.append(conn)

    async def at(t0: float, offset: float, fn) -> None:  # noqa: ANN001
        await asyncio.sleep(max(0.0, t0 + offset - time.perf_counter()))
        await asyncio.to_thread(fn)

    t0 = time.perf_counter()
    side = [asyncio.create_task(at(t0, off, fn)) for off, fn in events]
    tasks = []
    for k in range(int(rate * seconds)):
        due = t0 + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user = rng.choice(users)
        tasks.append(asyncio.create_task(one(t0, due, f"/v1/users/{user}/recommendations?n=20")))
    await asyncio.gather(*tasks, *side)
    for c in idle:
        c.close()
    return sorted(rows)


def p99(lat: list[float]) -> float:
    return float(np.percentile(np.asarray(lat) * 1000.0, 99)) if lat else float("nan")


def analyse(rows: list[tuple[float, float, bool, str]], published: list[tuple[float, str]]) -> dict:
    """Failures, steady p99 and the p99 around each switch. A switch is seen at the first
    answer of the published version after the last answer of the one served before it."""
    switches = []
    for k, (offset, version) in enumerate(published):
        end = published[k + 1][0] if k + 1 < len(published) else float("inf")
        span = [(due, v) for due, _, ok, v in rows if offset <= due < end and ok]
        before = [v for due, _, ok, v in rows if due < offset and ok]
        last_old = max((due for due, v in span if v != version), default=offset)
        seen = [due for due, v in span if v == version and due >= last_old]
        if before and before[-1] == version:  # served already: the last publish never was
            seen = []
        switches.append(
            {
                "version": version,
                "published_at_s": offset,
                "first_answer_at_s": min(seen) if seen else None,
            }
        )
    windows = [
        (s["first_answer_at_s"] - WINDOW, s["first_answer_at_s"] + WINDOW)
        for s in switches
        if s["first_answer_at_s"] is not None
    ]

    def near(due: float) -> bool:
        return any(a <= due <= b for a, b in windows)

    steady = [lat for due, lat, _, _ in rows if not near(due)]
    out = {
        "requests": len(rows),
        "failed": sum(not ok for _, _, ok, _ in rows),
        "steady_p50_ms": float(np.percentile(np.asarray(steady) * 1000.0, 50)),
        "steady_p99_ms": p99(steady),
        "switches": switches,
    }
    seen = [s for s in switches if s["first_answer_at_s"] is not None]
    for s, (a, b) in zip(seen, windows, strict=True):
        lat = [lat for due, lat, _, _ in rows if a <= due <= b]
        s["window_p99_ms"] = p99(lat)
        s["window_requests"] = len(lat)
        s["ratio"] = s["window_p99_ms"] / out["steady_p99_ms"]
        s["switch_seconds"] = s["first_answer_at_s"] - s["published_at_s"]
    per_second: dict[int, list[tuple[float, bool, str]]] = {}
    for due, lat, ok, v in rows:
        per_second.setdefault(int(due), []).append((lat, ok, v))
    out["per_second"] = [
        {
            "s": sec,
            "p99_ms": p99([lat for lat, _, _ in xs]),
            "failed": sum(not ok for _, ok, _ in xs),
            "versions": dict(Counter(v for _, _, v in xs)),
        }
        for sec, xs in sorted(per_second.items())
    ]
    return out


def report(res: dict) -> str:
    fitted = "ranker" in res["first_ready"]
    first = "imports, fits, publishes" if fitted else "the store's bundle was published already"
    lines = [
        f"## Run of {res['when']}",
        "",
        f"Load average before the run {res['loadavg']}; "
        f"{res['dataset']} ({'quick' if res['quick'] else 'full'} preset) on the embedded "
        f"store, one server process; `{res['command']}`.",
        "",
        "### Start-up",
        "",
        "| start | wall s | stages the server printed |",
        "|---|---:|---|",
        f"| first ({first}) | {res['first_start_s']:.0f} | {res['first_ready']} |",
        f"| restart (published bundle) | {res['restart_s']:.0f} | {res['restart_ready']} |",
        "",
        "### Feeds while publishing",
        "",
        f"{res['rate']:.0f} feed requests/s for {res['seconds']:.0f} s, open loop; "
        f"{res['requests']} requests, **{res['failed']} failed**. Steady p50 "
        f"{res['steady_p50_ms']:.1f} ms, **steady p99 {res['steady_p99_ms']:.1f} ms**.",
        "",
        "| publish | published at s | first answer of it at s | p99 in the 10 s around it (ms) "
        "| x steady p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in res["switches"]:
        if s["first_answer_at_s"] is None:
            lines.append(f"| {s['version']} | {s['published_at_s']:.1f} | not seen | | |")
            continue
        lines.append(
            f"| {s['version']} | {s['published_at_s']:.1f} | {s['first_answer_at_s']:.1f} | "
            f"{s['window_p99_ms']:.1f} | {s['ratio']:.2f} |"
        )
    lines += ["", f"Load average after the run: {res['loadavg_after']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=80.0)
    ap.add_argument("--publish-at", type=float, default=20.0)
    ap.add_argument("--back-at", type=float, default=50.0)
    ap.add_argument("--store", type=Path, default=None, help="default: a fresh temporary folder")
    args = ap.parse_args()
    from shoprec.data.datasets import load_dataset

    settings = Settings()
    work = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    store = args.store or work / "store"
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    first_args = ["--dataset", args.dataset, "--store", str(store)] + (
        ["--quick"] if args.quick else []
    )
    port = free_port()
    proc, first_ready, first_s = start(first_args, port, work / "first.log")
    stop(proc)
    port = free_port()
    proc, restart_ready, restart_s = start(first_args, port, work / "restart.log")
    try:
        shelf = BundleShelf.for_store(store, settings)
        first = shelf.published()
        second = second_bundle(shelf)
        users = load_dataset(args.dataset, settings).users.to_list()
        published = [(args.publish_at, second), (args.back_at, first)]
        events = [(off, lambda v=v: shelf.publish(v, "bench")) for off, v in published]
        rows = asyncio.run(load(port, users, args.rate, args.seconds, events))
    finally:
        stop(proc)
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg": loadavg,
        "dataset": args.dataset,
        "quick": args.quick,
        "rate": args.rate,
        "seconds": args.seconds,
        "command": "bench/publish_under_load.py " + " ".join(sys.argv[1:]),
        "first_start_s": first_s,
        "first_ready": first_ready,
        "restart_s": restart_s,
        "restart_ready": restart_ready,
        **analyse(rows, published),
        "loadavg_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    OUT.mkdir(exist_ok=True)
    out = OUT / "publish_under_load.json"  # every run kept, newest first: the host is shared
    runs = json.loads(out.read_text())["runs"] if out.is_file() else []
    runs.insert(0, res)
    out.write_text(json.dumps({"runs": runs}, indent=2))
    head = "# Publishing a bundle under load (issue 21, Done when 2 and 6)\n\n" + NOTES
    (OUT / "publish_under_load.md").write_text(head + "\n".join(report(r) for r in runs))
    print(report(res))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
