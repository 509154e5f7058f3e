"""Exactly-once ingestion over Redis (issue 23, Done-when 4): two ``shoprec serve`` workers over
a private Redis (AOF, ``appendfsync always``) take a stream of events, half the batches with an
``event_id`` and half without (each sender alternates), while Redis stalls (``DEBUG SLEEP``
longer than the client's timeout: the first attempt of a call runs late, and the client's retry
runs too) and is killed and restarted. Then every stored event is read back from the stream:
each acknowledged event must be there exactly once with its content unchanged, and no event
more than once.

    .venv/bin/python bench/redis_exactly_once.py [--events 100000] [--batch 200] [--artifacts DIR]

A batch with ids answered 503 is resent until acknowledged (the documented client behaviour);
a batch without ids is not resent (a resend would be a second event by design), so it is stored
once or not at all. Writes ``bench/results/redis_exactly_once.{json,md}``. The suite runs the
same check on a few thousand events (``tests/test_attacks_redis_once.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import redis

OUT = Path(__file__).parent / "results"
#: The stream's events are timed inside the synthetic shop's history (the data clock accepts
#: them: ``shoprec serve --dataset synthetic`` serves it).
T0 = 1_704_067_200.0
#: Redis stalls, in turn: longer than the served shop's client timeout (0.5 s, the
#: SHOPREC_REDIS_TIMEOUT_S default) but shorter than two, so the client's retry succeeds after
#: the timed-out first attempt ran (the double append of old); and longer than two (a 503).
STALLS_S = (0.8, 1.5)


class Server(Protocol):
    """A private redis-server the chaos thread may stall, kill and start again."""

    port: int

    def kill(self) -> object: ...
    def start(self) -> object: ...


def make_events(n: int, batch: int, marker: str) -> list[list[dict]]:
    """``n`` view events in batches of ``batch``; two batches in four carry ``event_id``s (so
    that every sender of :func:`run` sends both kinds in turn). Every event is told apart by
    its content (user, item, time)."""
    out = []
    for s in range(0, n, batch):
        with_ids = (s // batch) % 4 < 2
        rows = []
        for k in range(s, min(n, s + batch)):
            ev = {
                "user_id": f"{marker}-u{k % 997}",
                "item_id": f"P{(k % 400) + 1:05d}",
                "type": "view",
                "timestamp": T0 + k / 64,
            }
            if with_ids:
                ev["event_id"] = f"{marker}-e{k}"
            rows.append(ev)
        out.append(rows)
    return out


def key(ev: dict) -> tuple:
    return (ev["user_id"], ev["item_id"], ev["type"], float(ev["timestamp"]), ev.get("event_id"))


@dataclass
class Tally:
    acked: list[dict] = field(default_factory=list)  # events acknowledged (200)
    unacked: list[dict] = field(default_factory=list)  # batches without ids answered non-200
    answers: Counter = field(default_factory=Counter)  # status -> requests


def send(
    client: httpx.Client, batches: list[list[dict]], tally: Tally, deadline: float, pace_s: float
) -> None:
    """Post ``batches`` in order, ``pace_s`` apart; a batch with ids is resent until
    acknowledged."""
    for rows in batches:
        time.sleep(pace_s)
        with_ids = "event_id" in rows[0]
        while True:
            try:
                r = client.post("/v1/events", json={"events": rows})
                status = r.status_code
            except httpx.HTTPError:
                status = 0  # no answer: maybe stored, not acknowledged
            tally.answers[status] += 1
            if status == 200:
                body = r.json()
                assert body["accepted"] + body["duplicates"] == len(rows), body
                tally.acked += rows
                break
            assert status in (0, 503), f"answer {status}: {r.text[:200]}"
            time.sleep(0.1)  # a client backs off after a 503
            if not with_ids:
                tally.unacked += rows
                break
            if time.monotonic() > deadline:
                raise AssertionError("a batch with ids was never acknowledged")


def chaos(server: Server, stop: threading.Event, log: list[str], every_s: float = 2.0) -> None:
    """Until ``stop``: the two stalls (DEBUG SLEEP), then a kill and restart, in turn."""
    n = 0
    while not stop.wait(every_s):
        n += 1
        try:
            if n % 3:
                stall = STALLS_S[n % 3 - 1]
                c = redis.Redis(port=server.port, socket_timeout=stall + 5)
                c.execute_command("DEBUG", "SLEEP", stall)
                c.close()
                log.append(f"{time.time():.1f} stall {stall} s")
            else:
                server.kill()
                server.start()
                log.append(f"{time.time():.1f} killed and restarted")
        except redis.RedisError as exc:
            log.append(f"{time.time():.1f} chaos failed: {exc}")


def stored(url: str, prefix: str, marker: str) -> list[dict]:
    """Every event of the run in the stream, as stored."""
    r = redis.Redis.from_url(url)
    out = []
    for _, fields in r.xrange(prefix + "events", "-", "+"):
        ev = json.loads(fields[b"e"])
        if ev["user_id"].startswith(marker + "-"):
            out.append(ev)
    r.close()
    return out


def verify(sent: list[list[dict]], tally: Tally, found: list[dict]) -> dict:
    """Counts and content: the report, with ``ok``."""
    count = Counter(key(ev) for ev in found)
    by_key = {key(ev): ev for ev in found}
    acked = {key(ev): ev for ev in tally.acked}
    every = {key(ev) for rows in sent for ev in rows}
    lost = [k for k in acked if count[k] == 0]
    doubled = [k for k, c in count.items() if c > 1]
    changed = [k for k, ev in acked.items() if k in by_key and _differs(by_key[k], ev)]
    unknown = [k for k in count if k not in every]
    return {
        "events_sent": len(every),
        "acknowledged": len(acked),
        "not_acknowledged_without_id": len(tally.unacked),
        "stored": len(found),
        "stored_of_not_acknowledged": sum(count[key(ev)] > 0 for ev in tally.unacked),
        "lost": len(lost),
        "stored_twice_or_more": len(doubled),
        "content_changed": len(changed),
        "unknown": len(unknown),
        "answers": {str(k): v for k, v in sorted(tally.answers.items())},
        "ok": not (lost or doubled or changed or unknown),
    }


def _differs(stored_ev: dict, sent_ev: dict) -> bool:
    return any(stored_ev.get(f) != v for f, v in sent_ev.items())


def run(
    clients: list[httpx.Client],
    server: Server,
    url: str,
    n: int,
    batch: int,
    marker: str,
    prefix: str = "shoprec:",
    pace_s: float = 0.0,
) -> dict:
    """Stream ``n`` events through ``clients`` (one thread each, a batch every ``pace_s`` at
    most) under chaos; the report."""
    sent = make_events(n, batch, marker)
    tallies = [Tally() for _ in clients]
    stop, log = threading.Event(), []
    troublemaker = threading.Thread(target=chaos, args=(server, stop, log), daemon=True)
    t0 = time.monotonic()
    troublemaker.start()
    deadline = t0 + 600
    threads = [
        threading.Thread(
            target=send, args=(c, sent[k :: len(clients)], tallies[k], deadline, pace_s)
        )
        for k, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    troublemaker.join()
    seconds = time.monotonic() - t0
    tally = Tally()
    for t in tallies:
        tally.acked += t.acked
        tally.unacked += t.unacked
        tally.answers += t.answers
    time.sleep(0.5)
    report = verify(sent, tally, stored(url, prefix, marker))
    return {**report, "seconds": round(seconds, 1), "chaos": log}


# ------------------------------------------------------------------------------ the bench
class PrivateRedis:
    """redis-server on a free port, AOF with fsync always, DEBUG allowed from loopback."""

    def __init__(self, folder: Path) -> None:
        from serving import free_port

        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)]
        cmd += ["--enable-debug-command", "local"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        c = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                c.ping()
                return self
            except redis.ConnectionError:  # BusyLoading included
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def main() -> None:
    from serving import free_port

    from shoprec.serving.process import client_on_worker, serve
    from shoprec.serving.process import stop as stop_shop

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument(
        "--artifacts", help="a folder of trained synthetic artifacts to reuse (default: train)"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = PrivateRedis(Path(tmp)).start()
        url = f"redis://127.0.0.1:{server.port}/0"
        port = free_port()
        art = args.artifacts or f"{tmp}/artifacts"
        env = {"SHOPREC_ARTIFACTS_DIR": art, "SHOPREC_TEXT_CACHE": f"{art}/text.npz"}
        args_ = ["--dataset", "synthetic", "--quick", "--store", url, "--workers", "2"]
        shop = serve(args_, port, env=env, timeout=600, quiet=True)
        try:
            a, pid = client_on_worker(f"http://127.0.0.1:{port}")
            b, _ = client_on_worker(f"http://127.0.0.1:{port}", avoid=pid)
            report = run([a, b], server, url, args.events, args.batch, "once")
        finally:
            stop_shop(shop)
            server.kill()
    report["batch"] = args.batch
    OUT.mkdir(exist_ok=True)
    (OUT / "redis_exactly_once.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "redis_exactly_once.md").write_text(render(report))
    print(render(report))


def render(r: dict) -> str:
    verdict = "exactly once: yes" if r["ok"] else "exactly once: NO"
    return (
        "# Exactly-once ingestion over Redis (two workers, stalls and restarts)\n\n"
        "`bench/redis_exactly_once.py`: batches of "
        f"{r['batch']} view events, half with `event_id`, through two workers while Redis "
        f"stalls for {STALLS_S[0]} s and {STALLS_S[1]} s (client timeout 0.5 s, one retry) and "
        "is killed and restarted, in turn every 2 s.\n\n"
        "| figure | value |\n|---|---|\n"
        + "".join(
            f"| {k} | {r[k]} |\n"
            for k in (
                "events_sent",
                "acknowledged",
                "not_acknowledged_without_id",
                "stored",
                "stored_of_not_acknowledged",
                "lost",
                "stored_twice_or_more",
                "content_changed",
                "unknown",
                "seconds",
            )
        )
        + f"\nAnswers by status: {r['answers']}; chaos: {len(r['chaos'])} steps.\n\n"
        f"**{verdict}** (every acknowledged event stored once with its content; none twice).\n"
    )


if __name__ == "__main__":
    main()
