"""Training export: the ``training-export`` consumer group copies new events from the Redis
stream into an events file that ``shoprec.data.readers.read_events`` reads (``user_id, item_id,
type, timestamp, event_id, session_id, query, text, rating``).

Each batch is written, flushed and fsynced before it is acknowledged, so a crash never loses an
event; a batch written but not acknowledged is delivered again, and skipped by ``event_id``
(events stored without one are written as ``stream-<seq>``), so no event is written twice.
Only item events are exported (training reads interactions).

The file is a copy outside the live stores, so every export file is registered in Redis and
erasing a user (``DELETE /v1/users/{id}``, :func:`erase_user`) rewrites each registered file
without that user's rows. A file that cannot be rewritten then (on another machine, or an
export holding it) keeps a pending erasure in Redis that the next export to that file applies
before it appends; the pending user id is dropped once applied.
"""

from __future__ import annotations

import csv
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shoprec.data.keys import state_key
from shoprec.store.redis_groups import Entry, StreamGroup
from shoprec.store.redis_log import RedisEventLog

log_ = logging.getLogger(__name__)

#: The consumer group of training exports.
EXPORT_GROUP = "training-export"
#: Redis set of the export files (absolute paths) erasures must reach.
FILES = "export:files"
#: Redis set, per file (the key ends with its path), of user ids still to erase from it.
PENDING = "export:erase:"
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
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    log.r.sadd(log.p + FILES, str(path))  # before the first row: erasures must find it
    with _locked(path, wait_s=None):
        _apply_pending(log, path)
        return _append(log, path, consumer, batch)


def _append(log: RedisEventLog, path: Path, consumer: str, batch: int) -> int:
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
                "user_id": state_key(e.user_id, e.session_id),  # anonymous shoppers
                "item_id": e.item_id,
                "type": str(e.type),
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


def erase_user(log: RedisEventLog, user_id: str, wait_s: float = 5.0) -> tuple[int, int]:
    """Remove ``user_id``'s rows from every registered export file; returns (files rewritten
    now, files left with a pending erasure: not on this machine, or held by an export for
    longer than ``wait_s``)."""
    done = pending = 0
    for raw in log.r.smembers(log.p + FILES):
        path = Path(raw.decode())
        try:
            with _locked(path, wait_s=wait_s):
                if path.is_file():
                    _scrub(path, {user_id})
                    done += 1
                    continue
        except (OSError, TimeoutError) as exc:
            log_.warning("export file %s not rewritten now (%s): erasure pending", path, exc)
        log.r.sadd(log.p + PENDING + str(path), user_id)
        pending += 1
    return done, pending


def _apply_pending(log: RedisEventLog, path: Path) -> None:
    key = log.p + PENDING + str(path)
    users = {u.decode() for u in log.r.smembers(key)}
    if not users:
        return
    if path.is_file():
        _scrub(path, users)
    log.r.srem(key, *users)


def _scrub(path: Path, users: set[str]) -> int:
    """Rewrite ``path`` without the rows of ``users`` (a new file, fsynced, then renamed over
    the old one, so a crash leaves either file whole); returns the rows removed."""
    tmp = path.with_name(path.name + ".erasing")
    removed = 0
    with (
        path.open(newline="", encoding="utf-8") as src,
        tmp.open("w", newline="", encoding="utf-8") as dst,
    ):
        reader = csv.DictReader(src)
        out = csv.DictWriter(dst, reader.fieldnames or COLUMNS)
        out.writeheader()
        for row in reader:
            if row["user_id"] in users:
                removed += 1
            else:
                out.writerow(row)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return removed


@contextmanager
def _locked(path: Path, wait_s: float | None) -> Iterator[None]:
    """An exclusive lock on ``path``'s ``.lock`` file, shared by exports and erasures (an
    erasure must not rename the file under an export appending to it). ``wait_s`` None waits
    as long as it takes; else TimeoutError after that long."""
    if not path.parent.is_dir():
        raise OSError(f"no folder {path.parent} on this machine")
    with path.with_name(path.name + ".lock").open("a") as lock:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() > deadline:  # type: ignore[operator]
                    raise TimeoutError(f"{path} is being exported") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
