"""Batch feeds against a real ``shoprec serve`` subprocess (issue 24, Done-when 3): 10,000
Beauty shoppers' feeds in one ``POST /v1/recommendations/batch`` within 20 s, each line equal
to the single call ``GET /v1/users/{id}/recommendations?n=`` (a random sample of 200 or more
checked, every field but the per-answer ``recommendation_id``), while ``/healthz`` keeps
answering (the lines are computed off the event loop).

    .venv/bin/python bench/batch.py [--users 10000] [--n 10] [--sample 200] [--store DIR]

Writes ``bench/results/batch.json`` and ``batch.md`` (keeping the notes under its first "## "
heading).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from serving import free_port, start_server, write_report  # noqa: E402  (not a package)

from shoprec.serving.process import stop  # noqa: E402
from shoprec.settings import Settings  # noqa: E402

OUT = Path(__file__).parent / "results"
BOUND_S = 20.0
PER_CALL = ("recommendation_id",)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def beauty_users(settings: Settings, k: int, seed: int) -> list[str]:
    """``k`` distinct Beauty shoppers, drawn at random (all of them when fewer)."""
    import pandas as pd

    path = settings.data_dir / "amazon_beauty" / "interactions.csv"
    users = sorted(pd.read_csv(path, usecols=["user_id"])["user_id"].unique().tolist())
    random.Random(seed).shuffle(users)
    return users[:k]


class Prober(threading.Thread):
    """``/healthz`` every 50 ms while the batch streams: the event loop's responsiveness."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.lat, self.done = base, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as c:
            while not self.done.is_set():
                t0 = time.perf_counter()
                c.get("/healthz").raise_for_status()
                self.lat.append(time.perf_counter() - t0)
                self.done.wait(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def strip(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in PER_CALL}


def run(base: str, pid: int, users: list[str], n: int, sample: int, seed: int) -> dict:
    with httpx.Client(base_url=base, timeout=600) as c:
        c.post("/v1/recommendations/batch", json={"user_ids": users[:50], "n": n})  # warm
        probe = Prober(base)
        probe.start()
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        first = None
        lines: list[dict] = []
        with c.stream("POST", "/v1/recommendations/batch", json={"user_ids": users, "n": n}) as r:
            r.raise_for_status()
            for raw in r.iter_lines():
                if raw:
                    first = first if first is not None else time.perf_counter() - t0
                    lines.append(json.loads(raw))
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0
        probe.done.set()
        probe.join()
        assert [x["user_id"] for x in lines] == users, "lines out of order or missing"
        picked = random.Random(seed + 1).sample(range(len(users)), min(sample, len(users)))
        t1, cpu1 = time.perf_counter(), cpu_seconds(pid)
        equal, diffs = 0, []
        for k in picked:
            single = c.get(f"/v1/users/{users[k]}/recommendations", params={"n": n}).json()
            if strip(single) == strip(lines[k]):
                equal += 1
            elif len(diffs) < 3:
                diffs.append({"user_id": users[k], "batch": lines[k], "single": single})
        single_s = (time.perf_counter() - t1) / len(picked)
        single_cpu = (cpu_seconds(pid) - cpu1) / len(picked)
    lat = np.asarray(probe.lat) * 1000
    return {
        "users": len(users),
        "n": n,
        "seconds": seconds,
        "first_line_s": first,
        "feeds_per_s": len(users) / seconds,
        "server_cpu_s": cpu,
        "single_call_cpu_ms": 1000 * single_cpu,
        "bound_s": BOUND_S,
        "within_bound": seconds <= BOUND_S,
        "items_per_line": float(np.mean([len(x["items"]) for x in lines])),
        "fallback_lines": sum(1 for x in lines if x["fallback"]),
        "checked": len(picked),
        "equal": equal,
        "diffs": diffs,
        "single_call_ms": 1000 * single_s,
        "single_calls_estimate_s": single_s * len(users),
        "healthz_during_batch_ms": {
            "count": int(len(lat)),
            "p50": float(np.percentile(lat, 50)) if len(lat) else None,
            "max": float(lat.max()) if len(lat) else None,
        },
    }


def report(res: dict, cmd: str) -> str:
    h = res["healthz_during_batch_ms"]
    met = "met" if res["within_bound"] else "NOT met"
    rows = [
        (
            f"{res['users']:,} shoppers' feeds of {res['n']} in one call",
            f"{res['seconds']:.1f} s (bound {BOUND_S:.0f} s: {met}), "
            f"{res['feeds_per_s']:.0f} feeds/s, first line after {res['first_line_s']:.2f} s",
        ),
        (
            "the server's CPU time for that call (user + system)",
            f"{res['server_cpu_s']:.1f} s: {1000 * res['server_cpu_s'] / res['users']:.2f} ms "
            f"per feed",
        ),
        (
            "lines equal to the single call (all fields but `recommendation_id`)",
            f"{res['equal']} of {res['checked']} sampled",
        ),
        (
            "the same shoppers as single calls, one after another",
            f"{res['single_call_ms']:.1f} ms each ({res['single_call_cpu_ms']:.2f} ms of server "
            f"CPU): {res['single_calls_estimate_s']:.0f} s for {res['users']:,} (estimated)",
        ),
        (
            "`/healthz` while the batch streamed (every 50 ms)",
            f"{h['count']} probes, p50 {h['p50']:.1f} ms, max {h['max']:.1f} ms",
        ),
        ("lines answered by a fallback", str(res["fallback_lines"])),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (
        "# Batch feeds (amazon-beauty, one `shoprec serve --quick` process)\n\n"
        f"Command: `{cmd}`\n"
        f"CPU: {res['cpu']} ({res['cores']} cores, shared: load average "
        f"{res['load_average'][0]:.1f} at the end); "
        f"{res['date']}.\n\n| measure | value |\n|---|---|\n{table}\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", type=Path, default=None, help="embedded store (default: temp)")
    args = ap.parse_args()
    settings = Settings()
    users = beauty_users(settings, args.users, args.seed)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or Path(tmp) / "store"
        proc = start_server("amazon-beauty", store, port, quick=True)
        try:
            base = f"http://127.0.0.1:{port}"
            res = run(base, proc.pid, users, args.n, args.sample, args.seed)
        finally:
            stop(proc)
    res |= {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    cmd = "SHOPREC_DATA_DIR=/work/shared/data .venv/bin/python bench/batch.py " + " ".join(
        sys.argv[1:]
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "batch.json").write_text(json.dumps(res, indent=2))
    write_report(OUT / "batch.md", report(res, cmd.strip()))  # notes below it are kept
    print(report(res, cmd.strip()))
    if res["equal"] != res["checked"]:
        sys.exit(f"{res['checked'] - res['equal']} sampled lines differ from the single calls")


if __name__ == "__main__":
    main()
