"""Scale-out over Redis (issue 7, Done-when 2): home feed closed-loop throughput of a 2-worker
server beside a 1-worker server over the same Redis, in the same run (rounds alternate between
the two, so load from elsewhere on the machine hits both alike); freshness across workers (an
event through one worker, the next request through the other: a bought item leaves the feed);
Redis memory per shopper.

    .venv/bin/python bench/redis_workers.py [--dataset amazon-beauty] [--seconds 15] [--rounds 3]

Starts a private ``redis-server`` (never the shared one on 6379) and two ``shoprec serve
--quick --store redis://...`` servers, one after the other (the first imports the history into
Redis, the second finds it there). The load generator is a lean asyncio client (raw keep-alive
HTTP/1.1, httptools' parser): httpx costs several times more CPU per request than the feed
itself, and on 2 shared cores the client's CPU comes out of the servers'. Writes
``bench/results/redis_workers.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httptools
import redis
from serving import free_port, pct

from shoprec.client import Client
from shoprec.client.types import Event
from shoprec.serving.process import client_on_worker, serve
from shoprec.serving.process import stop as stop_shop

OUT = Path(__file__).parent / "results"


# --------------------------------------------------------------------------------- redis
def start_redis(folder: Path, aof: bool = False, port: int | None = None) -> tuple[int, Path]:
    """A private ``redis-server`` (daemonised, pid file in ``folder``); returns (port, pidfile)."""
    port = port or free_port()
    pidfile = folder / f"redis-{port}.pid"
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    cmd += ["--dir", str(folder), "--daemonize", "yes", "--pidfile", str(pidfile)]
    cmd += ["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return port, pidfile
        except redis.BusyLoadingError:
            time.sleep(0.02)
        except redis.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


def kill_redis(pidfile: Path) -> None:
    """SIGKILL the private Redis named by ``pidfile`` (only ever one this script started)."""
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


# -------------------------------------------------------------------------------- server
def start_shop(dataset: str, store_url: str, workers: int, port: int) -> subprocess.Popen:
    return serve(
        ["--dataset", dataset, "--quick", "--store", store_url, "--workers", str(workers)], port
    )


# ------------------------------------------------------------------------------- client
class _Response:
    def __init__(self) -> None:
        self.done = False
        self.status = 0

    def on_message_complete(self) -> None:
        self.done = True


async def lean_closed_loop(
    port: int, path_for: Callable[[], str], conns: int, seconds: float
) -> dict:
    """``conns`` keep-alive connections, each sending its next GET when the last is answered."""
    done = errors = 0

    async def one() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < end:
                req = f"GET {path_for()} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
                writer.write(req)
                resp = _Response()
                parser = httptools.HttpResponseParser(resp)
                while not resp.done:
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionError("server closed the connection")
                    parser.feed_data(data)
                done += 1
                errors += parser.get_status_code() != 200
        finally:
            writer.close()

    end = time.perf_counter() + seconds
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(conns)))
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "connections": conns,
        "seconds": wall,
        "requests": done,
        "errors": errors,
        "rps": done / wall,
        "client_cpu_share": client_cpu / wall,  # cores the load generator itself used
    }


def cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and its children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(d.name) == root or int(fields[1]) == root:  # fields[1]: the parent pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# ---------------------------------------------------------------------------- measures
def freshness_across(base: str, users: list[str], trials: int) -> dict:
    """Trial k: read the feed through worker R, buy its top item through worker W (W != R,
    alternating), read the feed and the profile through R again."""
    a, pid_a = client_on_worker(base)
    b, pid_b = client_on_worker(base, avoid=pid_a)
    rng = random.Random(7)
    gone = shows = 0
    ack: list[float] = []
    cross = 0
    try:
        for k in range(trials):
            writer, reader = (a, b) if k % 2 == 0 else (b, a)
            u = rng.choice(users)
            feed = reader.get(f"/v1/users/{u}/recommendations", params={"n": 20}).json()
            item = feed["items"][0]["item_id"]
            ev = {"user_id": u, "item_id": item, "type": "purchase", "event_id": f"xfr-{k}"}
            t0 = time.perf_counter()
            r = writer.post("/v1/events", json={"events": [ev]})
            ack.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
            nxt = reader.get(f"/v1/users/{u}/recommendations", params={"n": 20})
            cross += r.headers["x-shoprec-worker"] != nxt.headers["x-shoprec-worker"]
            gone += item not in [x["item_id"] for x in nxt.json()["items"]]
            prof = reader.get(f"/v1/users/{u}/profile").json()
            shows += prof["recent"][0]["item_id"] == item
    finally:
        a.close()
        b.close()
    return {
        "trials": trials,
        "workers": [pid_a, pid_b],
        "cross_worker_trials": cross,
        "purchase_left_feed": gone / trials,
        "profile_shows_event": shows / trials,
        "ack_ms": pct(ack),
    }


def history_cap(base: str, url: str, item_ids: list[str]) -> list[dict]:
    """One shopper sends 1,000 events: Redis bytes of their state as the history grows."""
    r = redis.Redis.from_url(url)
    user = "bench-heavy-shopper"
    out = []
    sent = 0
    with Client(base, timeout=30) as shop:  # the project's own client (raises on non-2xx)
        for target in (10, 100, 200, 500, 1000, 2000):
            batch: list[Event] = [
                {"user_id": user, "item_id": item_ids[k % len(item_ids)], "type": "view"}
                for k in range(sent, target)
            ]
            assert shop.post_events(batch)["accepted"] == target - sent
            sent = target
            size = int(r.memory_usage(f"shoprec:state:{user}", samples=0) or 0)
            out.append({"events": target, "state_bytes": size})
    r.close()
    return out


def memory(url: str) -> dict:
    from shoprec.serving.shared import SharedState

    shared = SharedState(url)
    try:
        return shared.memory(sample=1000)
    finally:
        shared.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--trials", type=int, default=1000)
    args = ap.parse_args()
    from shoprec.data.datasets import load_dataset

    data = load_dataset(args.dataset)
    users, items = data.users.to_list(), data.items.to_list()
    folder = Path(tempfile.mkdtemp(prefix="shoprec-redis-bench-"))
    rport, pidfile = start_redis(folder)
    url = f"redis://127.0.0.1:{rport}/0"
    procs: list[subprocess.Popen] = []
    res: dict = {"dataset": args.dataset, "machine": f"{os.cpu_count()} cores", "redis": url}
    try:
        t0 = time.perf_counter()
        ports = {1: free_port(), 2: free_port()}
        procs.append(start_shop(args.dataset, url, 1, ports[1]))
        res["first_start_s"] = time.perf_counter() - t0  # includes importing into Redis
        t0 = time.perf_counter()
        procs.append(start_shop(args.dataset, url, 2, ports[2]))
        res["second_start_s"] = time.perf_counter() - t0

        def feed_path() -> str:
            return f"/v1/users/{random.choice(users)}/recommendations?n=20"

        rounds: dict[int, list[dict]] = {1: [], 2: []}
        pids = {1: procs[0].pid, 2: procs[1].pid}
        for r in range(args.rounds):
            for w in (1, 2) if r % 2 == 0 else (2, 1):
                cpu0 = cpu_seconds(pids[w])
                m = asyncio.run(
                    lean_closed_loop(ports[w], feed_path, args.connections, args.seconds)
                )
                m["server_cores"] = (cpu_seconds(pids[w]) - cpu0) / m["seconds"]
                m["loadavg_1min"] = os.getloadavg()[0]  # the whole machine, others included
                rounds[w].append(m)
                print(f"round {r} workers {w}: {m['rps']:.0f} req/s", flush=True)
        trivial = {
            w: asyncio.run(lean_closed_loop(ports[w], lambda: "/healthz", args.connections, 10))
            for w in (1, 2)
        }
        rps = {
            w: sum(m["requests"] for m in ms) / sum(m["seconds"] for m in ms)
            for w, ms in rounds.items()
        }
        res["throughput"] = {
            "rounds": {str(w): ms for w, ms in rounds.items()},
            "rps_1_worker": rps[1],
            "rps_2_workers": rps[2],
            "ratio": rps[2] / rps[1],
            "trivial": {str(w): m for w, m in trivial.items()},
            "errors": sum(m["errors"] for ms in rounds.values() for m in ms),
        }
        print("throughput", rps, rps[2] / rps[1], flush=True)
        stop_shop(procs.pop(0))  # the 1-worker server: freshness runs on the 2-worker one
        res["freshness"] = freshness_across(f"http://127.0.0.1:{ports[2]}", users, args.trials)
        print("freshness", res["freshness"], flush=True)
        res["history_cap"] = history_cap(f"http://127.0.0.1:{ports[2]}", url, items)
        res["memory"] = memory(url)
        print("memory", res["memory"], res["history_cap"], flush=True)
    finally:
        for p in procs:
            stop_shop(p)
        kill_redis(pidfile)
        shutil.rmtree(folder, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "redis_workers.json").write_text(json.dumps(res, indent=2))
    (OUT / "redis_workers.md").write_text(report(res, args))
    print(report(res, args))


def report(res: dict, args: argparse.Namespace) -> str:
    thr, fr, mem = res["throughput"], res["freshness"], res["memory"]
    per = {w: ", ".join(f"{m['rps']:.0f}" for m in thr["rounds"][w]) for w in ("1", "2")}
    cores = {
        w: sum(m["server_cores"] for m in thr["rounds"][w]) / len(thr["rounds"][w])
        for w in ("1", "2")
    }
    load = [m["loadavg_1min"] for w in ("1", "2") for m in thr["rounds"][w]]
    cpu = {
        w: sum(m["client_cpu_share"] for m in thr["rounds"][w]) / len(thr["rounds"][w])
        for w in ("1", "2")
    }
    st = mem["state_bytes"]
    cap = " / ".join(f"{h['events']}: {h['state_bytes']:,}" for h in res["history_cap"])
    return "\n".join(
        [
            f"# Redis replicas ({res['dataset']}, {res['machine']}, quick preset)",
            "",
            f"Command: `.venv/bin/python bench/redis_workers.py --dataset {res['dataset']} "
            f"--seconds {args.seconds:g} --rounds {args.rounds}`",
            "",
            "Two `shoprec serve --quick --store redis://... ` servers over one private Redis "
            "(no persistence), one with `--workers 1`, one with `--workers 2`, up at the same "
            f"time; closed loop, {thr['rounds']['1'][0]['connections']} keep-alive connections, "
            f"{args.rounds} alternating rounds of {args.seconds:g} s each; the load generator "
            "runs on the same 2 cores.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| home feed, 1 worker (rounds) | {thr['rps_1_worker']:.0f} req/s ({per['1']}) |",
            f"| home feed, 2 workers (rounds) | {thr['rps_2_workers']:.0f} req/s ({per['2']}) |",
            f"| **2 workers / 1 worker** | **{thr['ratio']:.2f}x** (bar: 1.3x) |",
            f"| errors | {thr['errors']} |",
            f"| server CPU obtained (cores), 1 / 2 workers | {cores['1']:.2f} / {cores['2']:.2f} |",
            f"| feed requests per server CPU second, 1 / 2 workers | "
            f"{thr['rps_1_worker'] / cores['1']:.0f} / {thr['rps_2_workers'] / cores['2']:.0f} |",
            f"| load generator CPU (cores), 1 / 2 workers | {cpu['1']:.2f} / {cpu['2']:.2f} |",
            f"| machine load average (1 min) during the rounds, min / max | "
            f"{min(load):.1f} / {max(load):.1f} (other engineers' jobs share the 2 cores) |",
            f"| trivial endpoint (/healthz), 1 / 2 workers | {thr['trivial']['1']['rps']:.0f} / "
            f"{thr['trivial']['2']['rps']:.0f} req/s |",
            f"| freshness across workers ({fr['trials']} trials, event through one worker, next "
            f"request through the other): bought item left the feed | "
            f"{100 * fr['purchase_left_feed']:.1f}% |",
            f"| trials whose event and next read were served by different workers | "
            f"{fr['cross_worker_trials']} / {fr['trials']} |",
            f"| freshness across workers: profile shows the event | "
            f"{100 * fr['profile_shows_event']:.1f}% |",
            f"| event acknowledgement p50 / p99 (fold into Redis state included) | "
            f"{fr['ack_ms']['p50']:.2f} / {fr['ack_ms']['p99']:.2f} ms |",
            f"| Redis bytes per shopper state (MEMORY USAGE, {st['keys_sampled']} sampled): "
            f"mean / p99 / max | {st['mean']:.0f} / {st['p99']:.0f} / {st['max']:.0f} |",
            f"| one shopper's state bytes after N events (history capped at 200 items) | {cap} |",
            f"| stream bytes per stored event | {mem['stream_bytes_per_event']:.0f} "
            f"({mem['events']:,} events) |",
            f"| Redis used_memory | {mem['used_memory_bytes'] / 2**20:.0f} MiB |",
            f"| start-up: first server (imports the history into Redis) / second | "
            f"{res['first_start_s']:.0f} / {res['second_start_s']:.0f} s |",
            "",
            f"The throughput ratio can be no better than the CPU the servers obtain: here 2 "
            f"workers obtained {cores['2'] / cores['1']:.2f}x the CPU time of 1 worker "
            f"({cores['2']:.2f} vs {cores['1']:.2f} cores of 2, at a load average of "
            f"{min(load):.1f}-{max(load):.1f}), and served "
            f"{(thr['rps_2_workers'] / cores['2']) / (thr['rps_1_worker'] / cores['1']):.2f}x "
            "as many feed requests per CPU second.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
