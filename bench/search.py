"""Search under catalog writes (issue 24, Done-when 6) against real `shoprec serve` subprocesses:
``GET /v1/search`` at a fixed arrival rate (open loop, latency counted from each due time) while
items are upserted at ``--upserts`` items/s, each upsert renaming a Beauty item; after every
second rename of an item the next query asks for its new name (it must be among the 10 hits) and
for its previous one (it must not be). The same run repeats on the code of each ``--baseline``
commit (comma-separated; e.g. 50f8119, the hand-written TF-IDF search refitted at most every
30 s inside an async route), checked out in a temporary git worktree, on the same data and
artifacts. Searches slower than :data:`STALL_MS` are listed in the JSON with the upserts in
flight while they waited.

    .venv/bin/python bench/search.py --dataset amazon-beauty --quick [--seconds 60] \
        [--baseline 50f8119[,COMMIT...]] [--artifacts DIR]

Writes ``bench/results/search.json`` and ``search.md`` (the notes from its first "## " heading
on, written by hand, are kept). Query vectors: the queries (windows of
Beauty titles, a fixed pool) are each asked once before the timed run, so the semantic side
reads the server's query-vector memory, as a shop's repeated queries do; ``--cold`` adds a run
of never-seen queries, which pay the text encoder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import loadgen  # noqa: E402  (bench/ is not a package)

from shoprec.data.datasets import load_dataset  # noqa: E402
from shoprec.data.records import Item  # noqa: E402
from shoprec.serving.process import serve, stop  # noqa: E402

OUT = Path(__file__).parent / "results"
#: Every this many renamed items, one is checked (each check embeds two never-seen queries:
#: on a shared 2-core machine, checking all of them would double the encoder's load).
CHECK_EVERY = 5
#: Searches slower than this are listed with the upserts in flight meanwhile (the tail's
#: diagnosis: stalls against writes).
STALL_MS = 20.0
ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln)
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def query_pool(items: list[Item], n: int, rng: random.Random) -> list[str]:
    """``n`` distinct queries: windows of 1 to 3 words of random Beauty titles."""
    out: set[str] = set()
    while len(out) < n:
        words = [w.strip(",.()&-").lower() for w in rng.choice(items).title.split()]
        words = [w for w in words if w.isalpha() and len(w) > 2]
        if words:
            k = rng.randint(1, min(3, len(words)))
            start = rng.randint(0, len(words) - k)
            out.add(" ".join(words[start : start + k]))
    return sorted(out)


def nonsense(rng: random.Random) -> str:
    """A made-up word no Beauty title holds (three consonant-vowel syllables and a tail)."""
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3)) + "x"


def item_json(item: Item, title: str) -> dict:
    return {
        "item_id": item.item_id,
        "title": title,
        "category": list(item.category),
        "brand": item.brand,
        "price": item.price,
    }


async def renames(
    base: str, items: list[Item], rate: float, seconds: float, rng: random.Random
) -> dict:
    """Upsert one item every ``1 / rate`` s, each item renamed twice in a row (a made-up word
    before its title); after the second, search its new word and its old one."""
    stats = {"upserts": 0, "upsert_errors": 0, "checks": 0, "found_new": 0, "found_old": 0}
    upsert_ms: list[float] = []
    spans: list[tuple[float, float]] = []  # (start, end) of each upsert, perf_counter s
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:

        async def hit(word: str, item_id: str) -> bool:
            r = await c.get("/v1/search", params={"q": word, "n": 10})
            return r.status_code == 200 and item_id in [h["item_id"] for h in r.json()["items"]]

        t0 = time.perf_counter()
        k, old = 0, ""
        while k < int(rate * seconds):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            item = items[k // 2]
            word = nonsense(rng)
            t = time.perf_counter()
            body = {"items": [item_json(item, f"{word} {item.title}")]}
            r = await c.put("/v1/items", json=body)
            spans.append((t, time.perf_counter()))
            upsert_ms.append((spans[-1][1] - t) * 1000)
            stats["upserts"] += 1
            stats["upsert_errors"] += r.status_code != 200
            if k % (2 * CHECK_EVERY) == 2 * CHECK_EVERY - 1:  # a second rename: new in, old out
                stats["checks"] += 1
                stats["found_new"] += await hit(word, item.item_id)
                stats["found_old"] += await hit(old, item.item_id)
            old, k = word, k + 1
        stats["seconds"] = time.perf_counter() - t0
    a = np.asarray(upsert_ms)
    stats["spans"] = spans
    return stats | {f"upsert_p{q}": float(np.percentile(a, q)) for q in (50, 99)}


def stalls(done: list[tuple[float, float]], spans: list[tuple[float, float]], t0: float) -> dict:
    """Searches slower than :data:`STALL_MS` (due time from the run's start, latency) with the
    upserts in flight while each waited; and how often one was in flight for all searches."""
    slow, busy = [], 0
    for end, lat in done:
        due = end - lat
        during = [
            (round(s - t0, 3), round((e - s) * 1000, 1)) for s, e in spans if s < end and e > due
        ]
        busy += bool(during)
        if lat * 1000 > STALL_MS:
            slow.append(
                {"due_s": round(due - t0, 3), "ms": round(lat * 1000, 1), "upserts": during}
            )
    return {
        "over_ms": STALL_MS,
        "n": len(slow),
        "n_with_upsert": sum(1 for x in slow if x["upserts"]),
        "share_with_upsert": busy / max(1, len(done)),
        "slow": slow[:200],
    }


def start(pythonpath: Path, args: argparse.Namespace, store: str) -> tuple[subprocess.Popen, int]:
    """A server on the code under ``pythonpath`` (the servers start side by side, and are then
    measured one at a time: an idle server takes no CPU)."""
    from serving import free_port  # bench/serving.py

    port = free_port()
    env = {"PYTHONPATH": str(pythonpath), "SHOPREC_ARTIFACTS_DIR": str(args.artifacts)}
    # a copy of the text cache for each server: the renamed titles (the same made-up words in
    # every run) are encoded in every run, not found in a cache an earlier run filled
    cache = Path(store) / "text_cache.npz"
    for part in (cache, cache.with_suffix(".journal")):
        if (args.artifacts / part.name).is_file():
            shutil.copyfile(args.artifacts / part.name, part)
    env["SHOPREC_TEXT_CACHE"] = str(cache)
    cli = ["--dataset", args.dataset, "--store", store] + (["--quick"] if args.quick else [])
    return serve(cli, port, env=env), port


def run_one(
    label: str, port: int, args: argparse.Namespace, items: list[Item], queries: list[str]
) -> dict:
    """Warm-up, then the timed run under renames, on the server at ``port``."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as c:
        for q in queries:  # untimed: builds the index, fills the query-vector memory
            c.get("/v1/search", params={"q": q, "n": 20}).raise_for_status()
    rng = random.Random(7)

    def path() -> str:
        return "/v1/search?" + urlencode({"q": rng.choice(queries), "n": 20})

    done: list[tuple[float, float]] = []  # (answered at, latency) of each search

    def check(status: int, body: bytes) -> bool:
        done.append((time.perf_counter(), 0.0))
        return status == 200

    async def both() -> tuple[loadgen.Outcome, dict]:
        load = loadgen.fixed_rate("127.0.0.1", port, path, args.rate, args.seconds, check)
        writes = renames(base, items, args.upserts, args.seconds, random.Random(11))
        return await asyncio.gather(load, writes)

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    outcome, writes = asyncio.run(both())
    # latencies are appended right after each check, in the same order
    done = [(end, lat) for (end, _), lat in zip(done, outcome.latencies, strict=False)]
    spans = writes.pop("spans")
    result = {"label": label, "search": outcome.summary(), "renames": writes}
    result["stalls"] = stalls(done, spans, t0)
    result["load_1min"] = [load_before, os.getloadavg()[0]]  # other work on the cores
    if args.cold:
        fresh = iter([f"{q} {nonsense(rng)}" for q in queries * 4])
        cold = asyncio.run(
            loadgen.fixed_rate(
                "127.0.0.1",
                port,
                lambda: "/v1/search?" + urlencode({"q": next(fresh), "n": 20}),
                args.rate,
                min(args.seconds, len(queries) * 4 / args.rate),
            )
        )
        result["cold_queries"] = cold.summary()
    return result


def baseline_tree(commit: str) -> Path:
    """A detached git worktree of ``commit`` (removed at exit by the caller)."""
    path = Path(tempfile.mkdtemp(prefix="search-baseline-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
        check=True,
        capture_output=True,
    )
    return path


def report(results: list[dict], args: argparse.Namespace, cpu: str) -> str:
    cmd = " ".join(["bench/search.py", *sys.argv[1:]])
    lines = [
        "# Search under catalog writes (issue 24, Done-when 6)",
        "",
        f"`.venv/bin/python {cmd}` on {cpu} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}.",
        f"Real `shoprec serve --dataset {args.dataset}{' --quick' if args.quick else ''}` "
        f"subprocesses (1 worker, embedded store, 1 BLAS thread); `GET /v1/search?n=20` at "
        f"{args.rate:g} req/s open loop for {args.seconds:g} s over {args.queries} Beauty-title "
        f"queries, while `PUT /v1/items` renames {args.upserts:g} items/s (one item a call).",
        "",
        "| search | p50 ms | p90 ms | p99 ms | max ms | errors "
        f"| over {STALL_MS:g} ms (an upsert in flight) | upsert p50 / p99 ms "
        "| renamed: found by new name | found by old name | load avg before / after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s, w, st = r["search"], r["renames"], r["stalls"]
        lines.append(
            f"| {r['label']} | {s['p50']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} | {s['max']:.1f} "
            f"| {s['errors']} / {s['requests']} | {st['n']} ({st['n_with_upsert']}) "
            f"| {w['upsert_p50']:.1f} / {w['upsert_p99']:.1f} "
            f"| {w['found_new']} / {w['checks']} | {w['found_old']} / {w['checks']} "
            f"| {r['load_1min'][0]:.1f} / {r['load_1min'][1]:.1f} |"
        )
    cold = [r for r in results if "cold_queries" in r]
    if cold:
        lines += ["", "Never-seen queries (the text encoder runs for each), no writes:", ""]
        lines += ["| search | p50 ms | p99 ms | errors |", "|---|---|---|---|"]
        for r in cold:
            c = r["cold_queries"]
            errors = f"{c['errors']} / {c['requests']}"
            lines.append(f"| {r['label']} | {c['p50']:.1f} | {c['p99']:.1f} | {errors} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=50.0, help="searches per second")
    ap.add_argument("--upserts", type=float, default=10.0, help="items upserted per second")
    ap.add_argument("--queries", type=int, default=300, help="distinct queries in the pool")
    ap.add_argument("--baseline", default="", help="git commits to compare, comma-separated")
    ap.add_argument("--artifacts", type=Path, default=ROOT / "artifacts")
    ap.add_argument("--cold", action="store_true", help="also time never-seen queries")
    args = ap.parse_args()
    args.artifacts = args.artifacts.resolve()

    data = load_dataset(args.dataset)
    rng = random.Random(3)
    catalog = [it for it in data.catalog if it.title]
    rng.shuffle(catalog)
    queries = query_pool(catalog, args.queries, rng)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    runs = [(f"this tree ({head})", ROOT / "src")]
    trees = [(c, baseline_tree(c)) for c in args.baseline.split(",") if c]
    runs += [(commit, tree / "src") for commit, tree in trees]
    procs: list[subprocess.Popen] = []
    stores = [tempfile.TemporaryDirectory() for _ in runs]
    try:
        with ThreadPoolExecutor(len(runs)) as pool:
            started = list(
                pool.map(lambda r: start(r[1][1], args, r[0].name), zip(stores, runs, strict=True))
            )
        procs = [p for p, _ in started]
        results = [
            run_one(label, port, args, catalog, queries)
            for (label, _), (_, port) in zip(runs, started, strict=True)
        ]
    finally:
        for proc in procs:
            stop(proc)
        for st in stores:
            st.cleanup()
        for _, tree in trees:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
    cpu = cpu_model()
    OUT.mkdir(exist_ok=True)
    payload = {"cpu": cpu, "args": {k: str(v) for k, v in vars(args).items()}, "runs": results}
    (OUT / "search.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = OUT / "search.md"
    old = md.read_text() if md.exists() else ""
    notes = old[old.index("\n## ") :] if "\n## " in old else ""  # written by hand: kept
    md.write_text(report(results, args, cpu) + notes)
    print((OUT / "search.md").read_text())


if __name__ == "__main__":
    main()
