"""The embedded event log alone, under both durability settings (``SHOPREC_DURABILITY``): fsync
(``synchronous=FULL``, one fsync per commit) and os (``NORMAL``). For each, a file that already
holds ``--prefill`` events takes 1,000-event batches with shoppers and items in turn and
increasing event ids, then with random shoppers and items and UUID event ids (random places in
the event-id index; the shoppers' events are found through a map in memory, see
``SQLiteEventLog``), then ``--singles`` one-event commits (as one event per request). No HTTP,
no validation, no online state: what is left is SQLite's and the disk's.

    .venv/bin/python bench/sqlite_ingest.py [--prefill 200000] [--batches 60] [--singles 2000]

Three rounds, the two settings alternating (the machine is shared: compare within a round).
Writes ``bench/results/sqlite_ingest.json`` and ``.md`` (notes below the table are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from shoprec.data.records import Event, EventType
from shoprec.store.sqlite import Durability, SQLiteEventLog

sys.path.insert(0, str(Path(__file__).parent))
from serving import write_report  # noqa: E402  (bench/ is not a package)

USERS, ITEMS = 22_363, 12_101  # Amazon Beauty's counts
OUT = Path(__file__).parent / "results"
MODES: tuple[Durability, ...] = ("fsync", "os")
KINDS = ("in_turn", "uuid", "single")


def batches(rng: random.Random, start: int, n: int, uuids: bool, size: int = 1000) -> list:
    """``n`` batches of ``size`` view events numbered from ``start`` (see the module doc)."""
    out = []
    for k in range(start, start + size * n, size):
        out.append(
            [
                Event(
                    f"user-{rng.randrange(USERS) if uuids else (k + j) % USERS}",
                    f"item-{rng.randrange(ITEMS) if uuids else (k + j) % ITEMS}",
                    EventType.VIEW,
                    1e9 + k + j,
                    str(uuid.UUID(int=rng.getrandbits(128))) if uuids else f"in-{k + j}",
                )
                for j in range(size)
            ]
        )
    return out


def timed(log: SQLiteEventLog, todo: list[list[Event]]) -> float:
    """Events per second appending ``todo``, a commit per batch."""
    t = time.perf_counter()
    for b in todo:
        log.append(b)
    return sum(map(len, todo)) / (time.perf_counter() - t)


def filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (an fsync's cost depends on it)."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefill", type=int, default=200_000)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--singles", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where the files go (default: temp)")
    args = ap.parse_args()
    rates: dict[str, dict[str, list[float]]] = {m: {k: [] for k in KINDS} for m in MODES}
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        logs = {m: SQLiteEventLog(Path(d) / f"{m}.db", m) for m in MODES}
        start = {m: args.prefill for m in MODES}
        try:
            for log in logs.values():
                for b in batches(random.Random(0), 0, args.prefill // 1000, uuids=True):
                    log.append(b)
            for r in range(args.rounds):
                for m in MODES if r % 2 == 0 else MODES[::-1]:  # alternate who goes first
                    rng, k = random.Random(1 + r), start[m]
                    line = rates[m]
                    line["in_turn"].append(timed(logs[m], batches(rng, k, args.batches, False)))
                    k += 1000 * args.batches
                    line["uuid"].append(timed(logs[m], batches(rng, k, args.batches, True)))
                    k += 1000 * args.batches
                    singles = batches(rng, k, args.singles, True, size=1)
                    line["single"].append(timed(logs[m], singles))
                    start[m] = k + args.singles
                    print(
                        f"round {r} {m:5}: in turn {line['in_turn'][-1]:,.0f}  UUID "
                        f"{line['uuid'][-1]:,.0f}  one per commit {line['single'][-1]:,.0f}"
                        " events/s",
                        flush=True,
                    )
        finally:
            for log in logs.values():
                log.close()
        fs = filesystem(Path(d))
    res = {"machine": f"{os.cpu_count()} cores", "filesystem": fs, **vars(args), "rates": rates}
    res["dir"] = str(args.dir) if args.dir else None
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sqlite_ingest.json").write_text(json.dumps(res, indent=2))
    write_report(OUT / "sqlite_ingest.md", report(res))


def report(res: dict) -> str:
    """The Markdown table of a run: each setting's range over the rounds."""

    def span(xs: list[float]) -> str:
        return f"{min(xs):,.0f}-{max(xs):,.0f}"

    r = res["rates"]
    lines = [
        f"# The event log alone: fsync vs os durability ({res['machine']}, {res['filesystem']})",
        "",
        f"Command: `.venv/bin/python bench/sqlite_ingest.py --prefill {res['prefill']} "
        f"--batches {res['batches']} --singles {res['singles']} --rounds {res['rounds']}`",
        "",
        f"Events/s, lowest-highest of {res['rounds']} rounds, the settings alternating; each "
        f"file prefilled with {res['prefill']:,} events.",
        "",
        "| appends | fsync (synchronous=FULL, default) | os (synchronous=NORMAL) |",
        "|---|---|---|",
        f"| 1,000-event batches, ids in turn | {span(r['fsync']['in_turn'])} "
        f"| {span(r['os']['in_turn'])} |",
        f"| 1,000-event batches, random shoppers, items, UUID ids | {span(r['fsync']['uuid'])} "
        f"| {span(r['os']['uuid'])} |",
        f"| one event per commit, UUID ids | {span(r['fsync']['single'])} "
        f"| {span(r['os']['single'])} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
