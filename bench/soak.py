"""Soak test: one `shoprec serve` process on Amazon Beauty (quick preset) under an open-loop
mix at a fixed arrival rate for ten minutes, its resident memory sampled every 10 s.

    .venv/bin/python bench/soak.py [--rate 200] [--minutes 10]

The mix: home feed (80%), one event per request (10%, views of catalog items by catalog
shoppers, each with a fresh ``event_id``), similar items (5%), search (5%). Latency is counted
from each request's due time (``bench/loadgen.py``: queueing is never hidden), per minute of
due time. Resident memory (VmRSS of the server and its children) every 10 s; the figure the
issue asks for is its growth from minute 2 to minute 10. Writes
``bench/results/soak.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Connection  # noqa: E402
from serving import free_port, start_server  # noqa: E402

OUT = Path(__file__).parent / "results"
MIX = (("feed", 0.80), ("event", 0.10), ("similar", 0.05), ("search", 0.05))


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (``VmRSS``), 0 once it is gone."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo += [int(k) for k in kids]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Record:
    kind: str
    due: float  # seconds since the start
    latency: float
    ok: bool
    timed_out: bool = False


@dataclass
class Soak:
    records: list[Record] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)  # (seconds, bytes)


class Mix:
    """The next request of the mix: (kind, method, path, body)."""

    def __init__(self, users: list[str], items: list[str], words: list[str], seed: int) -> None:
        self.users, self.items, self.words = users, items, words
        self.rng = random.Random(seed)
        self.kinds = [k for k, _ in MIX]
        self.weights = [w for _, w in MIX]
        self.n = 0

    def next(self) -> tuple[str, str, str, bytes]:
        r, self.n = self.rng, self.n + 1
        kind = r.choices(self.kinds, self.weights)[0]
        user = r.choice(self.users)
        if kind == "feed":
            return kind, "GET", f"/v1/users/{user}/recommendations?n=20", b""
        if kind == "similar":
            return kind, "GET", f"/v1/items/{r.choice(self.items)}/similar?n=10", b""
        if kind == "search":
            q = "+".join(r.sample(self.words, 2))
            return kind, "GET", f"/v1/search?q={q}&user_id={user}&n=20", b""
        ev = {
            "user_id": user,
            "item_id": r.choice(self.items),
            "type": "view",
            "event_id": f"soak-{self.n}",
        }
        return kind, "POST", "/v1/events", json.dumps({"events": [ev]}).encode()


async def drive(port: int, mix: Mix, rate: float, seconds: float, pid: int, timeout: float) -> Soak:
    """Open loop at ``rate``/s for ``seconds``: at most 512 requests in flight, the rest wait
    for a connection, latency counted from the due time; a request not answered ``timeout``
    seconds after it was due is given up (an error, latency = ``timeout``), so an overloaded
    server cannot make the run outlast its ten minutes by more than ``timeout``."""
    out = Soak()
    idle: list[Connection] = []
    sem = asyncio.Semaphore(512)
    t0 = time.perf_counter()

    async def one(due: float, kind: str, method: str, path: str, body: bytes) -> None:
        # the deadline bounds the request only, never the wait for a connection slot:
        # cancelling asyncio.Semaphore waiters en masse can lose its wake-ups (an earlier run
        # of this script stalled that way, the server idle, every request given up)
        async with sem:
            left = due + timeout - time.perf_counter()
            if left <= 0:  # waited its whole budget for a slot: given up unsent
                out.records.append(Record(kind, due - t0, timeout, False, True))
                return
            conn = idle.pop() if idle else Connection("127.0.0.1", port)
            try:
                status, _ = await asyncio.wait_for(conn.request(method, path, body), left)
            except TimeoutError:
                conn.close()  # given up mid-request: the connection is spoilt
                out.records.append(Record(kind, due - t0, timeout, False, True))
                return
            except (OSError, ValueError, asyncio.IncompleteReadError):
                status = 0
            if conn.writer is not None:
                idle.append(conn)
            out.records.append(Record(kind, due - t0, time.perf_counter() - due, status == 200))

    async def sample_memory() -> None:
        while time.perf_counter() - t0 <= seconds + 1:
            out.memory.append((time.perf_counter() - t0, rss_bytes(pid)))
            await asyncio.sleep(10.0 - (time.perf_counter() - t0) % 10.0)

    sampler = asyncio.create_task(sample_memory())
    tasks = []
    for k in range(int(rate * seconds)):
        due = t0 + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, *mix.next())))
    await asyncio.gather(*tasks)
    sampler.cancel()
    for c in idle:
        c.close()
    return out


def summarise(soak: Soak, rate: float, minutes: int) -> dict:
    per_minute = []
    for m in range(minutes):
        rows = [r for r in soak.records if m * 60 <= r.due < (m + 1) * 60]
        lat = np.array([r.latency for r in rows]) * 1000.0
        done = [r for r in soak.records if r.ok and m * 60 <= r.due + r.latency < (m + 1) * 60]
        feed = np.array([r.latency for r in rows if r.kind == "feed"]) * 1000.0
        per_minute.append(
            {
                "timeouts": sum(r.timed_out for r in rows),
                "minute": m + 1,
                "requests_due": len(rows),
                "completed_per_s": len(done) / 60.0,
                "errors": sum(not r.ok for r in rows),
                "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
                "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
                "feed_p99_ms": float(np.percentile(feed, 99)) if len(feed) else None,
            }
        )
    mem = soak.memory

    def at(t: float) -> int:
        return min(mem, key=lambda s: abs(s[0] - t))[1]

    start, end = at(120.0), at(60.0 * minutes)
    last = soak.records[-1].due + soak.records[-1].latency if soak.records else 0.0
    return {
        "rate": rate,
        "minutes": minutes,
        "requests": len(soak.records),
        "errors": sum(not r.ok for r in soak.records),
        "timeouts": sum(r.timed_out for r in soak.records),
        "achieved_rps": sum(r.ok for r in soak.records) / max(last, 1e-9),
        "by_kind": {k: sum(r.kind == k for r in soak.records) for k, _ in MIX},
        "rss_minute2_mb": start / 2**20,
        "rss_end_mb": end / 2**20,
        "rss_growth_2_to_end": (end - start) / start if start else None,
        "per_minute": per_minute,
        "memory_mb": [(round(t, 1), b / 2**20) for t, b in mem],
    }


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    t, mb = zip(*r["memory_mb"], strict=True)
    a.plot(np.array(t) / 60.0, mb, marker=".")
    a.axvline(2, color="grey", ls=":")
    a.set(xlabel="minute", ylabel="server RSS (MiB)", title="Resident memory, every 10 s")
    a.set_ylim(0, max(mb) * 1.15)
    pm = r["per_minute"]
    mins = [p["minute"] for p in pm]
    b.plot(mins, [p["p50_ms"] for p in pm], marker="o", label="p50")
    b.plot(mins, [p["p99_ms"] for p in pm], marker="o", label="p99")
    b.set(xlabel="minute", ylabel="latency (ms, from due time)", yscale="log")
    b2 = b.twinx()
    b2.plot(mins, [p["completed_per_s"] for p in pm], color="grey", ls="--", label="answered/s")
    b2.set_ylabel("answered (200) requests/s")
    b.legend(loc="upper left")
    b.set_title(f"Open loop at {r['rate']:.0f} req/s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(r: dict, command: str) -> str:
    growth = r["rss_growth_2_to_end"]
    lines = [
        f"# Soak: {r['minutes']} minutes at {r['rate']:.0f} requests/s (one server process)",
        "",
        f"`{command}`: `shoprec serve --dataset amazon-beauty --quick` on a fresh store, load"
        " from the same 2-core machine (shared with other work), open loop, latency from each"
        " request's due time.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests sent / errors (of which given up after {r['timeout_s']:.0f} s) |"
        f" {r['requests']} / {r['errors']} ({r['timeouts']}) |",
        f"| achieved rate (answered 200 / s) | {r['achieved_rps']:.1f} (target {r['rate']:.0f}) |",
        f"| mix | {', '.join(f'{k} {n}' for k, n in r['by_kind'].items())} |",
        f"| RSS at minute 2 / at the end | {r['rss_minute2_mb']:.0f} / {r['rss_end_mb']:.0f} MiB |",
        f"| RSS growth, minute 2 to {r['minutes']} | {100 * growth:+.1f}% (bar: < 10%) |",
        "",
        "| minute | due | answered/s | errors (given up) | p50 ms | p99 ms | feed p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in r["per_minute"]:
        lines.append(
            f"| {p['minute']} | {p['requests_due']} | {p['completed_per_s']:.1f} |"
            f" {p['errors']} ({p['timeouts']}) |"
            f" {p['p50_ms']:.1f} | {p['p99_ms']:.1f} | {p['feed_p99_ms']:.1f} |"
        )
    lines += [
        "",
        f"Latency counts from each request's due time; a request given up after"
        f" {r['timeout_s']:.0f} s counts {r['timeout_s']:.0f} s, so a p99 at that value means"
        " more than 1% were given up (the server did not keep up with the rate).",
        "",
        "![soak](soak.png)",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=10.0, help="give a request up after (s)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    from shoprec.data.datasets import load_dataset

    data = load_dataset("amazon-beauty")
    users, items = data.users.to_list(), data.items.to_list()
    words = sorted(
        {w.lower() for it in data.catalog for w in it.title.split() if w.isalpha() and len(w) > 3}
    )
    port = free_port()
    with tempfile.TemporaryDirectory() as store:
        t_start = time.perf_counter()
        proc = start_server("amazon-beauty", Path(store), port, quick=True)
        started_s = time.perf_counter() - t_start
        try:
            soak = asyncio.run(
                drive(
                    port,
                    Mix(users, items, words, 0),
                    args.rate,
                    60 * args.minutes,
                    proc.pid,
                    args.timeout,
                )
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    r = summarise(soak, args.rate, args.minutes)
    r["server_start_s"] = round(started_s, 1)
    r["timeout_s"] = args.timeout
    r["machine"] = f"{os.cpu_count()} cores"
    command = " ".join([".venv/bin/python", "bench/soak.py", *sys.argv[1:]])
    r["command"] = command
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(r, indent=2) + "\n")
    (args.out / "soak.md").write_text(markdown(r, command))
    plot(r, args.out / "soak.png")
    print(markdown(r, command))


if __name__ == "__main__":
    main()
