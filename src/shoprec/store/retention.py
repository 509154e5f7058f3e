"""Retention: dropping events older than a window from the embedded event log (``shoprec
compact``, and ``shoprec serve`` every ``SHOPREC_COMPACT_EVERY_S`` when ``SHOPREC_RETAIN_DAYS``
is set). The Redis log's counterpart is ``redis_retention.py``; both follow one rule.

The rule: walk the log from its oldest event in append order and drop each event whose time is
before ``cutoff``; stop at the first event at or after it. The log is in append order, not in
event-time order, but the engine refuses events older than the window (``SHOPREC_RETAIN_DAYS``,
the API and ``shoprec import`` alike), so an event appended after a newer one is at most a
window (plus the future skew) older than it: no event outlives its window by more than one
window more, and the walk costs what it drops, not the size of the log.

What the shopper's state needs stays (``keep_last``): the embedded server rebuilds every
shopper's state from the log at start-up, and that state reads only a shopper's latest events
(the last 200 items, the last 10 searches), so a signed-in shopper's latest ``keep_last``
events are kept however old. Anonymous events get no such keep: a session's state expires
after a week without events anyway. The dedupe ids go with their rows (``event_id`` is a
column of the row).

Space: deleted rows' pages go on SQLite's free list and the next events reuse them, so the file
stops growing once the window is full. With ``vacuum`` the file is rewritten once (``VACUUM``,
which blocks writers while it runs: not while serving) in ``auto_vacuum=INCREMENTAL`` mode;
from then on every compaction hands freed pages back to the file system in small steps
(``PRAGMA incremental_vacuum``) that do not block the serving process.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from shoprec.store.sqlite import SQLiteEventLog

log = logging.getLogger(__name__)

#: Rows deleted per transaction: the serving process's appends wait at most one batch.
BATCH = 2_000
#: Free pages handed back to the file system per transaction (incremental vacuum).
VACUUM_STEP = 2_000


@dataclass
class Compaction:
    """What one compaction did (also its progress, reported after every batch)."""

    cutoff: float
    scanned: int = 0
    dropped: int = 0
    #: expired events kept because they are among their shopper's latest ``keep_last``
    kept_for_state: int = 0
    #: the seq of the first event inside the window, where the walk stopped (0: the end)
    stopped_at: int = 0
    #: how the space was handled: "reused" (free list), "incremental", "vacuum"
    space: str = ""
    freed_pages: int = 0


Progress = Callable[[Compaction], None]


def compact_sqlite(
    events: SQLiteEventLog,
    cutoff: float,
    keep_last: int = 0,
    vacuum: bool = False,
    full: bool = False,
    progress: Progress | None = None,
    pause_s: float = 0.0,
    batch: int = BATCH,
) -> Compaction:
    """Drop the events before ``cutoff`` (module doc) from the embedded log.

    Parameters
    ----------
    events : the log (its handle's shopper map is read for ``keep_last`` and updated).
    cutoff : event time (unix seconds): events before it are dropped.
    keep_last : per signed-in shopper, how many of their latest events to keep however old.
    vacuum : rewrite the file once (``VACUUM``) into incremental auto-vacuum mode when it is
        not in it yet (blocks writers while it runs).
    full : read the whole log rather than stop at the first event inside the window: every
        expired event goes, also those appended after newer ones (once, when a window is set
        on a log filled without one).
    progress : called after every batch.
    pause_s : sleep between batches (a serving process's background compaction yields).
    """
    done = Compaction(cutoff)
    if keep_last:
        events._catch_up_all()  # every shopper's seqs: who has newer events
    after = 0
    sql = "SELECT seq, user_id, timestamp FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
    while True:
        rows = events._query(sql, (after, batch))
        drop: list[tuple[int, str]] = []
        for seq, user, ts in rows:
            done.scanned += 1
            if ts >= cutoff:
                if full:
                    continue
                done.stopped_at = seq
                break
            if keep_last and user and _among_latest(events, user, seq, keep_last):
                done.kept_for_state += 1
            else:
                drop.append((seq, user))
        if drop:
            done.dropped += _delete(events, drop)
        if progress is not None:
            progress(done)
        if done.stopped_at or len(rows) < batch:
            break
        after = rows[-1][0]
        if pause_s:
            time.sleep(pause_s)
    if done.dropped:
        events._checkpoint(wait_ms=1000)  # the zeroed pages leave the WAL
    _reclaim(events, vacuum, done)
    log.log(
        logging.INFO if done.dropped else logging.DEBUG,  # an hourly round with nothing: quiet
        "compacted %s: %d events dropped, %d kept for state, space %s (%d pages freed)",
        events.path,
        done.dropped,
        done.kept_for_state,
        done.space,
        done.freed_pages,
    )
    return done


def _among_latest(events: SQLiteEventLog, user: str, seq: int, keep_last: int) -> bool:
    """Whether ``seq`` is among ``user``'s latest ``keep_last`` events (their seqs ascend)."""
    with events._lock:
        seqs = events._by_user.get(user)
        return seqs is None or len(seqs) <= keep_last or seq >= seqs[-keep_last]


def _delete(events: SQLiteEventLog, drop: list[tuple[int, str]]) -> int:
    """Delete the ``(seq, user)`` rows in one short transaction; forget them in the handle's
    shopper map."""
    seqs = [seq for seq, _ in drop]
    per_user = Counter(user for _, user in drop)

    def run(conn: sqlite3.Connection) -> int:
        n = 0
        for s in range(0, len(seqs), 500):
            chunk = seqs[s : s + 500]
            marks = ", ".join("?" * len(chunk))
            n += conn.execute(f"DELETE FROM events WHERE seq IN ({marks})", chunk).rowcount
        return n

    deleted = events._write(run)
    gone = set(seqs)
    with events._lock:
        by_user = events._by_user
        for user, count in per_user.items():
            arr = by_user.get(user)
            if arr is None:
                continue
            k = 0  # a shopper's dropped seqs are mostly their oldest: cut the front
            while k < len(arr) and arr[k] in gone:
                k += 1
            del arr[:k]
            if k < count:  # some further in (a full walk, or stale seqs in front): filter
                arr = by_user[user] = array("q", (q for q in arr if q not in gone))
            if not arr:
                del by_user[user]
    return int(deleted)


def _reclaim(events: SQLiteEventLog, vacuum: bool, done: Compaction) -> None:
    """Hand free pages back (incremental mode), or convert the file once when asked."""
    mode = int(events._scalar("PRAGMA auto_vacuum"))
    if mode != 2 and vacuum:  # 0 none, 1 full, 2 incremental
        before = int(events._scalar("PRAGMA page_count"))
        with events._lock:
            conn = events._db()
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.execute("VACUUM")  # rewrites the file: the mode takes effect, space returns
        done.space, done.freed_pages = "vacuum", before - int(events._scalar("PRAGMA page_count"))
        events._checkpoint(wait_ms=1000)
        return
    if mode != 2:
        done.space = "reused"  # the free list: the next events' pages
        return
    done.space = "incremental"
    free = int(events._scalar("PRAGMA freelist_count"))
    while free:  # a step per transaction: the serving process's appends wait one step at most
        events._write(lambda c: c.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP})").fetchall())
        left = int(events._scalar("PRAGMA freelist_count"))
        if left >= free:
            break
        done.freed_pages += free - left
        free = left
    events._checkpoint(wait_ms=1000)


def latest_time(events: SQLiteEventLog) -> float:
    """The latest event time in the log (0 when empty): now under the data clock."""
    return float(events._scalar("SELECT MAX(timestamp) FROM events") or 0.0)
