"""Redis killed and restarted under load (issue 7, Done-when 3): a 2-worker ``shoprec serve``
over a private Redis with AOF (``appendfsync always``: an acknowledged write is on disk), home
feed readers and event writers running throughout; Redis is SIGKILLed, then restarted on the
same port and files.

Counts every response by route and status (the feed must stay 200, flagged as a fallback while
Redis is away; events are refused with 503 + Retry-After, the designed answer; any other 5xx is
a failure), checks that every event acknowledged with 200 is in the stream afterwards, and
measures the seconds from Redis answering again to the first acknowledged event (a prober
posts every 20 ms).

    .venv/bin/python bench/redis_outage.py [--dataset amazon-beauty] [--down 5]

Writes ``bench/results/redis_outage.{json,md}``. Never touches the shared Redis on 6379.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import redis
from redis_workers import kill_redis, start_redis, start_shop, stop_shop
from serving import free_port

OUT = Path(__file__).parent / "results"
STORE_DOWN = "store unavailable: trending items"


class Tally:
    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.acked: set[str] = set()
        self.fallback_down = 0
        self.bad: list[str] = []  # 5xx other than the designed 503 + Retry-After on events

    def note(self, route: str, r: httpx.Response) -> None:
        self.status[f"{route} {r.status_code}"] += 1
        if r.status_code >= 500 and not (
            route == "events" and r.status_code == 503 and "retry-after" in r.headers
        ):
            self.bad.append(f"{route} {r.status_code} {r.text[:200]}")


async def run(base: str, users: list[str], items: list[str], args, pidfile, rport) -> dict:
    tally = Tally()
    ids = itertools.count()
    stop = asyncio.Event()
    marks: dict[str, float] = {}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as c:

        async def reader() -> None:
            while not stop.is_set():
                u = random.choice(users)
                try:
                    r = await c.get(f"/v1/users/{u}/recommendations", params={"n": 20})
                except httpx.HTTPError as exc:
                    tally.bad.append(f"feed transport {exc!r}")
                    continue
                tally.note("feed", r)
                if r.status_code == 200 and r.json()["fallback"] == STORE_DOWN:
                    tally.fallback_down += 1

        async def writer(tag: str) -> None:
            while not stop.is_set():
                eid = f"out-{tag}-{next(ids)}"
                ev = {"user_id": random.choice(users), "item_id": random.choice(items)}
                ev |= {"type": "view", "event_id": eid}
                # a refused event is resent with the same id until acknowledged
                while True:
                    try:
                        r = await c.post("/v1/events", json={"events": [ev]})
                    except httpx.HTTPError as exc:
                        tally.bad.append(f"events transport {exc!r}")
                        break
                    tally.note("events", r)
                    if r.status_code == 200:
                        tally.acked.add(eid)
                        if "up" in marks and "first_ack" not in marks:
                            marks["first_ack"] = time.monotonic()
                        break
                    if r.status_code != 503 or stop.is_set():
                        break
                    await asyncio.sleep(0.02 if tag == "probe" else float(r.headers["retry-after"]))

        tasks = [asyncio.create_task(reader()) for _ in range(args.readers)]
        tasks += [asyncio.create_task(writer(f"w{k}")) for k in range(args.writers)]
        tasks.append(asyncio.create_task(writer("probe")))
        await asyncio.sleep(args.before)
        kill_redis(pidfile)
        marks["down"] = time.monotonic()
        await asyncio.sleep(args.down)
        await asyncio.to_thread(start_redis, pidfile.parent, True, rport)  # PING answered
        marks["up"] = time.monotonic()
        await asyncio.sleep(args.after)
        stop.set()
        await asyncio.gather(*tasks)
    return {
        "status": dict(sorted(tally.status.items())),
        "other_5xx": len(tally.bad),
        "other_5xx_examples": tally.bad[:5],
        "feed_fallback_store_down": tally.fallback_down,
        "acked": sorted(tally.acked),
        "recovery_s": marks["first_ack"] - marks["up"] if "first_ack" in marks else None,
        "down_s": marks["up"] - marks["down"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="amazon-beauty")
    ap.add_argument("--before", type=float, default=10)
    ap.add_argument("--down", type=float, default=5)
    ap.add_argument("--after", type=float, default=10)
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--writers", type=int, default=4)
    args = ap.parse_args()
    from shoprec.data.datasets import load_dataset
    from shoprec.store.redis_log import RedisEventLog

    data = load_dataset(args.dataset)
    users, items = data.users.to_list(), data.items.to_list()
    folder = Path(tempfile.mkdtemp(prefix="shoprec-redis-outage-"))
    rport, pidfile = start_redis(folder, aof=True)
    url = f"redis://127.0.0.1:{rport}/0"
    port = free_port()
    proc = None
    try:
        proc = start_shop(args.dataset, url, 2, port)
        seq0 = redis.Redis.from_url(url).get("shoprec:seq")
        res = asyncio.run(run(f"http://127.0.0.1:{port}", users, items, args, pidfile, rport))
        time.sleep(2)  # let the profile updaters drain
        log = RedisEventLog(redis.Redis.from_url(url))
        stored = {e.event_id for _, e in log.replay(after=int(seq0 or 0))}
        acked = set(res.pop("acked"))
        r = redis.Redis.from_url(url)
        res |= {
            "dataset": args.dataset,
            "machine": f"{os.cpu_count()} cores",
            "workers": 2,
            "acked_events": len(acked),
            "acked_events_lost": len(acked - stored),
            "pending_lists_left": sum(1 for _ in r.scan_iter(match="shoprec:pending:*")),
            "redis": "appendonly yes, appendfsync always; SIGKILL, restarted on the same files",
            "args": vars(args),
        }
    finally:
        if proc is not None:
            stop_shop(proc)
        kill_redis(pidfile)
        shutil.rmtree(folder, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "redis_outage.json").write_text(json.dumps(res, indent=2))
    md = report(res)
    (OUT / "redis_outage.md").write_text(md)
    print(md)


def report(res: dict) -> str:
    a = res["args"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in res["status"].items())
    rec = f"{res['recovery_s']:.2f} s" if res["recovery_s"] is not None else "never"
    return "\n".join(
        [
            f"# Redis outage under load ({res['dataset']}, {res['machine']}, 2 workers)",
            "",
            f"Command: `.venv/bin/python bench/redis_outage.py --dataset {res['dataset']} "
            f"--down {a['down']:g}`",
            "",
            f"{a['readers']} home-feed readers and {a['writers']} event writers (closed loop; "
            "a refused event is resent with the same event_id after Retry-After) plus a prober "
            f"(resends every 20 ms); after {a['before']:g} s Redis ({res['redis']}) is killed, "
            f"{res['down_s']:.1f} s later restarted; {a['after']:g} s more load.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| 5xx other than the designed 503 + Retry-After on POST /v1/events | "
            f"**{res['other_5xx']}** (bar: 0) |",
            f"| events acknowledged (200) / of them missing from the stream afterwards | "
            f"{res['acked_events']} / **{res['acked_events_lost']}** (bar: 0) |",
            f"| seconds from Redis answering again to the first acknowledged event | "
            f"**{rec}** (bar: 5 s) |",
            f"| home feed answers flagged `{STORE_DOWN}` | {res['feed_fallback_store_down']} |",
            f"| pending (unfolded) shopper lists left after recovery | "
            f"{res['pending_lists_left']} |",
            "",
            "Responses by route and status:",
            "",
            "| route status | count |",
            "|---|---|",
            rows,
            "",
            "A production Redis needs `appendonly yes` with `appendfsync always` for this "
            "guarantee: without persistence a restarted Redis is empty, and `everysec` may lose "
            "the last second of acknowledged events.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
