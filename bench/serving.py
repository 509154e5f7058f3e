"""Serving benchmarks (docs/benchmarks.md, serving protocol) against a real `shoprec serve`
subprocess:
latency at a fixed arrival rate, closed-loop throughput beside the trivial endpoint of the same
app, freshness in 1,000 trials with event-acknowledgement latency, and a kill -9 mid-stream with a
count of acknowledged events missing after restart, on one server (``--durability``, default
fsync); then batched ingestion under both durability settings (``SHOPREC_DURABILITY`` fsync and
os), ``--rounds`` rounds alternating which goes first, each on a fresh server and store.

    .venv/bin/python bench/serving.py --dataset amazon-beauty [--quick] [--rounds 2]

Writes ``bench/results/serving.json`` and ``serving.md``. All load comes from this machine to
loopback; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import loadgen  # noqa: E402  (bench/ is not a package)

from shoprec.serving.process import serve, stop  # noqa: E402

OUT = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    dataset: str, store: Path, port: int, quick: bool, durability: str | None = None
) -> subprocess.Popen:
    """``shoprec serve`` on ``dataset`` over the embedded store in ``store``; ``durability``
    sets ``SHOPREC_DURABILITY`` (else the environment's, or the default: fsync)."""
    args = ["--dataset", dataset, "--store", str(store)]
    env = {"SHOPREC_DURABILITY": durability} if durability else None
    return serve(args + (["--quick"] if quick else []), port, env=env)


def write_report(path: Path, table: str) -> None:
    """Write ``table`` (a run's heading and figures) to ``path``, keeping the notes below the old
    one (from the first "## " heading on): earlier runs, written up by hand."""
    kept = path.read_text() if path.is_file() else ""
    at = kept.find("\n## ")
    path.write_text(table + (kept[at:] if at >= 0 else ""))


def pct(lat: list[float]) -> dict[str, float]:
    a = np.asarray(lat) * 1000.0
    if not len(a):
        return {}
    return {f"p{q}": float(np.percentile(a, q)) for q in (50, 90, 99, 99.9)} | {
        "mean": float(a.mean())
    }


def feed_ok(status: int, body: bytes) -> bool:
    return status == 200 and len(json.loads(body)["items"]) == 20


def fixed_rate(port: int, users: list[str], rate: float, seconds: float) -> dict:
    """Open loop: one request every 1/rate s, whatever the previous ones are doing; latency
    from each request's due time (see bench/loadgen.py)."""
    out = asyncio.run(
        loadgen.fixed_rate(
            "127.0.0.1",
            port,
            lambda: f"/v1/users/{random.choice(users)}/recommendations?n=20",
            rate,
            seconds,
            check=feed_ok,
        )
    )
    return {"rate": rate, **out.summary()}


def closed_loop(port: int, path_for, conns: int, seconds: float) -> dict:
    out = asyncio.run(loadgen.closed_loop("127.0.0.1", port, path_for, conns, seconds))
    summary = out.summary()
    return {"connections": conns, **summary, "rps": summary["achieved_rps"]}


class Client:
    """A plain keep-alive HTTP client (stdlib): a small, steady cost per request, so the
    acknowledgement latencies measured here are the server's, not a heavy client's."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str) -> dict:
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
        return json.loads(body)

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        return self.post_raw(path, json.dumps(payload).encode())

    def post_raw(self, path: str, body: bytes) -> tuple[int, dict]:
        self.conn.request("POST", path, body, {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())

    def close(self) -> None:
        self.conn.close()


def freshness(port: int, users: list[str], trials: int) -> dict:
    """Post one event, then check the very next request reflects it."""
    ack: list[float] = []
    gone = shows = lifted = lift_trials = 0
    rng = random.Random(7)
    c = Client(port)
    try:
        for k in range(trials):
            u = rng.choice(users)
            items = c.get(f"/v1/users/{u}/recommendations?n=50")["items"]
            if k % 2 == 0:  # a bought item leaves the feed
                item = items[0]["item_id"]
                ev = {"user_id": u, "item_id": item, "type": "purchase", "event_id": f"fr-{k}"}
            else:  # a viewed item's neighbours move up
                item = items[min(len(items) - 1, 30)]["item_id"]
                nbrs = [
                    x["item_id"]
                    for x in c.get(f"/v1/items/{item}/similar?n=10&user_id={u}")["items"]
                ]
                before = [x["item_id"] for x in items]
                ev = {"user_id": u, "item_id": item, "type": "view", "event_id": f"fr-{k}"}
            t0 = time.perf_counter()
            status, answer = c.post("/v1/events", {"events": [ev]})
            ack.append(time.perf_counter() - t0)
            assert status == 200 and answer["accepted"] == 1, answer
            after = [x["item_id"] for x in c.get(f"/v1/users/{u}/recommendations?n=50")["items"]]
            prof = c.get(f"/v1/users/{u}/profile")
            shows += prof["recent"][0]["item_id"] == item
            if k % 2 == 0:
                gone += item not in after
            else:

                def rank(lst: list[str], x: str) -> int:
                    return lst.index(x) if x in lst else len(lst)

                lift_trials += 1
                lifted += sum(rank(before, x) - rank(after, x) for x in nbrs) > 0
    finally:
        c.close()
    return {
        "trials": trials,
        "purchase_left_feed": gone / (trials - lift_trials),
        "view_lifted_neighbours": lifted / max(1, lift_trials),
        "profile_shows_event": shows / trials,
        "ack_ms": pct(ack),
    }


def views(
    users: list[str],
    items: list[str],
    start: int,
    n: int,
    prefix: str,
    rng: random.Random | None = None,
) -> list[dict]:
    """``n`` view events numbered from ``start``: with ``rng``, random shoppers and items and
    random (UUID) event ids, as a shop's clients send them; else shoppers and items in turn and
    ids ``<prefix>-<number>``, which index inserts favour."""
    return [
        {
            "user_id": rng.choice(users) if rng else users[(start + j) % len(users)],
            "item_id": rng.choice(items) if rng else items[(start + j) % len(items)],
            "type": "view",
            "event_id": str(uuid.UUID(int=rng.getrandbits(128)))
            if rng
            else f"{prefix}-{start + j}",
        }
        for j in range(n)
    ]


def ingestion(
    port: int,
    users: list[str],
    items: list[str],
    seconds: float,
    uuids: bool,
    batches: int = 400,
    seed: int = 0,
) -> dict:
    """Batches of 1,000 events, each acknowledged once durable, for ``seconds`` (or until the
    ``batches`` prepared ones run out); ``uuids``: random ids (see :func:`views`), drawn from
    ``seed``. The request bodies are built before the clock starts, so the figure is the
    server's, not this client's JSON encoding."""
    rng = random.Random(seed) if uuids else None
    bodies = [
        json.dumps({"events": views(users, items, k, 1000, f"in{seed}", rng)}).encode()
        for k in range(0, 1000 * batches, 1000)
    ]
    n = 0
    c = Client(port)
    t0 = time.perf_counter()
    try:
        for body in bodies:
            if time.perf_counter() - t0 >= seconds:
                break
            status, answer = c.post_raw("/v1/events", body)
            assert status == 200, answer
            n += answer["accepted"]
    finally:
        c.close()
    return {"events": n, "events_per_s": n / (time.perf_counter() - t0), "batch": 1000}


DURABILITIES = ("fsync", "os")


def ingestion_by_durability(
    dataset: str, quick: bool, users: list[str], items: list[str], rounds: int, seconds: float
) -> dict[str, list[dict]]:
    """:func:`ingestion` (ids in turn, then random ids) under each ``SHOPREC_DURABILITY``,
    ``rounds`` times, alternating which setting goes first; each on a fresh server over a fresh
    store (the dataset's history imported), so every figure starts from the same file."""
    out: dict[str, list[dict]] = {d: [] for d in DURABILITIES}
    for r in range(rounds):
        for durability in DURABILITIES if r % 2 == 0 else DURABILITIES[::-1]:
            port = free_port()
            with tempfile.TemporaryDirectory() as store:
                proc = start_server(dataset, Path(store), port, quick, durability)
                try:
                    run = {
                        "round": r,
                        "in_turn": ingestion(port, users, items, seconds, False, seed=r),
                        "uuid": ingestion(port, users, items, seconds, True, seed=r),
                    }
                finally:
                    stop(proc)
            out[durability].append(run)
            print("ingestion", durability, run, flush=True)
    return out


def kill_mid_stream(
    proc: subprocess.Popen, port: int, users: list[str], items: list[str]
) -> list[dict]:
    """Stream 100-event batches from a second thread, ``kill -9`` the server after 3 s while
    they flow; returns the acknowledged events (the caller restarts the server)."""
    acked: list[dict] = []
    done = threading.Event()

    def writer() -> None:
        c, k = Client(port), 0
        try:
            while not done.is_set():
                batch = views(users, items, k, 100, "k9")
                try:
                    status, _ = c.post("/v1/events", {"events": batch})
                except (OSError, http.client.HTTPException, json.JSONDecodeError):
                    return  # the server is gone: this batch was never acknowledged
                if status == 200:
                    acked.extend(batch)
                k += 100
        finally:
            c.close()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(3)
    proc.kill()  # SIGKILL: no shutdown hook runs
    proc.wait()
    done.set()
    thread.join()
    assert acked, "no batch was acknowledged before the kill (the writer failed)"
    return acked


def missing_after_restart(port: int, acked: list[dict]) -> int:
    """Resend every acknowledged event: one the restarted server still holds comes back as a
    duplicate, so the accepted count is the number that were lost."""
    c, missing = Client(port), 0
    try:
        for k in range(0, len(acked), 1000):
            status, answer = c.post("/v1/events", {"events": acked[k : k + 1000]})
            assert status == 200, answer
            missing += answer["accepted"]
    finally:
        c.close()
    return missing


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="serve the quick preset (default: the benchmark model if trained)",
    )
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2, help="ingestion rounds, both settings each")
    ap.add_argument("--ingest-seconds", type=float, default=10)
    ap.add_argument(
        "--durability", choices=DURABILITIES, default="fsync", help="of the first server"
    )
    args = ap.parse_args()
    from shoprec.data.datasets import load_dataset
    from shoprec.settings import Settings
    from shoprec.training.sasrec_job import checkpoint_dir

    data = load_dataset(args.dataset)
    if not (checkpoint_dir(Settings(), data.name, "sasrec") / "manifest.json").is_file():
        args.quick = True  # no benchmark checkpoint: do not spend 15 minutes training one
    users, items = data.users.to_list(), data.items.to_list()
    port = free_port()
    with tempfile.TemporaryDirectory() as store:
        proc = start_server(args.dataset, Path(store), port, args.quick, args.durability)
        try:
            res: dict = {"dataset": args.dataset, "machine": f"{os.cpu_count()} cores"}
            res["durability"] = args.durability
            closed_loop(port, lambda: f"/v1/users/{random.choice(users)}/recommendations", 4, 5)
            res["latency"] = fixed_rate(port, users, args.rate, args.seconds)  # after a warm-up
            print("latency", res["latency"])
            feed = closed_loop(
                port, lambda: f"/v1/users/{random.choice(users)}/recommendations?n=20", 32, 20
            )
            trivial = closed_loop(port, lambda: "/healthz", 32, 20)
            res["throughput"] = {
                "feed": feed,
                "trivial": trivial,
                "ratio": feed["rps"] / trivial["rps"],
            }
            print("throughput", res["throughput"])
            res["freshness"] = freshness(port, users, args.trials)
            print("freshness", res["freshness"])
            acked = kill_mid_stream(proc, port, users, items)
            # the same store, the same setting
            proc = start_server(args.dataset, Path(store), port, args.quick, args.durability)
            res["kill_9"] = {
                "acknowledged": len(acked),
                "missing": missing_after_restart(port, acked),
            }
            print("kill -9", res["kill_9"])
        finally:
            stop(proc)
    res["ingestion"] = ingestion_by_durability(
        args.dataset, args.quick, users, items, args.rounds, args.ingest_seconds
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serving.json").write_text(json.dumps(res, indent=2))
    lat, thr, fr = res["latency"], res["throughput"], res["freshness"]

    def rates(durability: str, kind: str) -> str:
        runs = res["ingestion"][durability]
        return ", ".join(f"{run[kind]['events_per_s']:,.0f}" for run in runs)

    md = [
        f"# Serving benchmarks ({args.dataset}, one server process, {res['machine']})",
        "",
        f"Command: `.venv/bin/python bench/serving.py --dataset {args.dataset}"
        f"{' --quick' if args.quick else ''} --rounds {args.rounds}`",
        "",
        f"Rows above ingestion: one server, SHOPREC_DURABILITY={args.durability}. Ingestion: "
        f"{args.rounds} rounds, each a fresh server and store per setting, the settings "
        f"alternating, {args.ingest_seconds:.0f} s each kind; events/s per round.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| home feed at {lat['rate']:.0f} req/s for {lat['seconds']:.0f} s: p50 / p99 / p99.9 "
        f"| {lat['p50']:.2f} / {lat['p99']:.2f} / {lat['p99.9']:.2f} ms, {lat['errors']} errors |",
        f"| closed loop, 32 connections: home feed / trivial endpoint | {thr['feed']['rps']:.0f} "
        f"/ {thr['trivial']['rps']:.0f} req/s = {100 * thr['ratio']:.0f}% |",
        f"| freshness ({fr['trials']} trials): bought item left the feed | "
        f"{100 * fr['purchase_left_feed']:.1f}% |",
        "| freshness: viewed item's neighbours moved up | "
        f"{100 * fr['view_lifted_neighbours']:.1f}% |",
        f"| freshness: profile shows the event | {100 * fr['profile_shows_event']:.1f}% |",
        f"| event acknowledgement p50 / p99 | {fr['ack_ms']['p50']:.2f} / "
        f"{fr['ack_ms']['p99']:.2f} ms |",
        f"| kill -9 mid-stream, restart: acknowledged events missing | {res['kill_9']['missing']} "
        f"of {res['kill_9']['acknowledged']:,} |",
        "| batched ingestion (1,000 per request), SHOPREC_DURABILITY=fsync (synchronous=FULL) "
        f"| {rates('fsync', 'in_turn')} events/s |",
        "| the same, SHOPREC_DURABILITY=os (synchronous=NORMAL) "
        f"| {rates('os', 'in_turn')} events/s |",
        "| random shoppers and items and UUID event ids, fsync "
        f"| {rates('fsync', 'uuid')} events/s |",
        f"| random shoppers and items and UUID event ids, os | {rates('os', 'uuid')} events/s |",
    ]
    write_report(OUT / "serving.md", "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
