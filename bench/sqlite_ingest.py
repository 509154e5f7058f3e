"""The embedded event log alone: 1,000-event batches appended to an SQLite file that already
holds ``--prefill`` events, with shoppers and items in turn and increasing event ids, then with
random shoppers and items and UUID event ids (random places in the event-id index; the
shoppers' events are found through a map in memory, see ``SQLiteEventLog``). No HTTP, no
validation, no online state: what is left of a batch's cost is SQLite's.

    .venv/bin/python bench/sqlite_ingest.py [--prefill 200000] [--batches 60]

Prints events/s for each kind, three rounds (the machine is shared: compare within a run).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from pathlib import Path

from shoprec.data.records import Event, EventType
from shoprec.store.sqlite import SQLiteEventLog

USERS, ITEMS = 22_363, 12_101  # Amazon Beauty's counts


def batches(rng: random.Random, start: int, n: int, uuids: bool) -> list[list[Event]]:
    out = []
    for k in range(start, start + 1000 * n, 1000):
        out.append(
            [
                Event(
                    f"user-{rng.randrange(USERS) if uuids else (k + j) % USERS}",
                    f"item-{rng.randrange(ITEMS) if uuids else (k + j) % ITEMS}",
                    EventType.VIEW,
                    1e9 + k + j,
                    str(uuid.UUID(int=rng.getrandbits(128))) if uuids else f"in-{k + j}",
                )
                for j in range(1000)
            ]
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefill", type=int, default=200_000)
    ap.add_argument("--batches", type=int, default=60)
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as d, SQLiteEventLog(Path(d) / "shoprec.db") as log:
        for b in batches(rng, 0, args.prefill // 1000, uuids=True):
            log.append(b)
        start = args.prefill
        for _ in range(3):
            line = []
            for uuids in (False, True):
                todo = batches(rng, start, args.batches, uuids)
                start += 1000 * args.batches
                t = time.perf_counter()
                for b in todo:
                    log.append(b)
                rate = 1000 * args.batches / (time.perf_counter() - t)
                line.append(f"{'random ids (UUID)' if uuids else 'ids in turn'} {rate:,.0f}")
            print("  ".join(line), "events/s", flush=True)


if __name__ == "__main__":
    main()
