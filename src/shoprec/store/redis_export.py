"""Training export: the ``training-export`` consumer group copies new events from the Redis
stream into an events file that ``shoprec.data.readers.read_events`` reads (``user_id, item_id,
type, timestamp, event_id, session_id, query, text, rating``).

Each batch is written, flushed and fsynced before it is acknowledged, so a crash never loses an
event; a batch written but not acknowledged is delivered again, and skipped by ``event_id``
(events stored without one are written as ``stream-<seq>``), so no event is written twice.
Only item events are exported (training reads interactions). The file is a copy outside the
live stores: erasing a user (``DELETE /v1/users/{id}``) does not reach files already exported.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from shoprec.data.records import EventType
from shoprec.store.redis import RedisEventLog
from shoprec.store.redis_groups import Entry, StreamGroup

#: The consumer group of training exports.
EXPORT_GROUP = "training-export"
COLUMNS = [
    "user_id",
    "item_id",
    "type",
    "timestamp",
    "event_id",
    "session_id",
    "query",
    "text",
    "rating",
]


def _seen(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    with path.open(newline="", encoding="utf-8") as f:
        return {row["event_id"] for row in csv.DictReader(f)}


def export_events(
    log: RedisEventLog, path: Path, consumer: str = "exporter", batch: int = 5000
) -> int:
    """Append the events the export group has not acknowledged yet to ``path`` (CSV).

    Parameters
    ----------
    log : the Redis event log.
    path : the events file (created with a header if missing).
    consumer : this exporter's name in the group (one exporter per file).
    batch : entries per read, write, fsync and acknowledgement.

    Returns
    -------
    int
        Rows written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    group = StreamGroup(log, EXPORT_GROUP, consumer, start="0")
    seen = _seen(path)
    new_file = not path.is_file()
    written = 0
    with path.open("a", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, COLUMNS)
        if new_file:
            out.writeheader()
        entries = group.read(batch, mine=True)  # delivered before a crash, never acknowledged
        while True:
            if not entries:
                entries = group.read(batch)
                if not entries:
                    break
            written += _write(out, entries, seen)
            f.flush()
            os.fsync(f.fileno())
            group.ack(entries)
            entries = []
    return written


def _write(out: csv.DictWriter, entries: list[Entry], seen: set[str]) -> int:
    n = 0
    for entry in entries:
        e = entry.event
        if e is None or not e.item_id:  # erased since, or not an item event
            continue
        eid = e.event_id or f"stream-{entry.seq}"
        if eid in seen:
            continue
        seen.add(eid)
        out.writerow(
            {
                "user_id": e.user_id or f"session:{e.session_id or ''}",  # anonymous shoppers
                "item_id": e.item_id,
                "type": EventType(e.type).value,
                "timestamp": repr(e.timestamp),
                "event_id": eid,
                "session_id": e.session_id or "",
                "query": e.query or "",
                "text": e.text or "",
                "rating": "" if e.rating is None else repr(e.rating),
            }
        )
        n += 1
    return n
