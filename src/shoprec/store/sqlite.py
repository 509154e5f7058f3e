"""Embedded SQLite implementation of :class:`EventLog`, and the locked connection it shares with
the item store (``sqlite_items.py``) and the state stores (``sqlite_state.py``).

Each uses one connection per object (``check_same_thread=False``) guarded by a
:class:`threading.Lock`, in WAL mode. The event log's durability follows the ``durability``
setting (``SHOPREC_DURABILITY``): ``"fsync"`` (the default) selects ``synchronous=FULL``, one
fsync per commit, so an acknowledged event survives a power cut; ``"os"`` selects ``NORMAL``,
which survives a crash of the process only (the WAL is synced at checkpoints, not commits).
The item store runs ``NORMAL`` whatever the setting (which is about acknowledged events). Both
classes may open the same database file (they use different tables).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from shoprec.data import event_types
from shoprec.data.records import Event
from shoprec.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The values of the ``durability`` setting (``shoprec.settings.Settings.durability``).
Durability = Literal["fsync", "os"]
#: SQLite's ``synchronous`` level for each durability.
_SYNCHRONOUS: dict[str, str] = {"fsync": "FULL", "os": "NORMAL"}


def synchronous_for(durability: Durability) -> str:
    """SQLite's ``synchronous`` level (``FULL`` or ``NORMAL``) for ``durability``."""
    if durability not in _SYNCHRONOUS:
        raise ValueError(f"durability must be one of {tuple(_SYNCHRONOUS)}, got {durability!r}")
    return _SYNCHRONOUS[durability]


def _marks(n: int) -> str:
    """``n`` SQL parameter marks: ``?, ?, ?``."""
    return ", ".join("?" * n)


def _chunks(values: Sequence[T]) -> Iterator[tuple[Sequence[T], str]]:
    """``values`` in runs of at most :data:`_CHUNK`, each with the marks of its ``IN (...)``."""
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        yield chunk, _marks(len(chunk))


#: How long a statement waits for another connection's lock before failing.
_TIMEOUT_S = 30.0
#: Parameters per ``IN (...)`` look-up; far below SQLite's limit of 32766.
_CHUNK = 500
#: Page cache per connection (KiB): the indexes of a large event log stay in memory (SQLite's
#: default, 2 MiB, holds those of about 100,000 events).
_CACHE_KIB = 65536
#: WAL pages (64 MiB) after which a commit checkpoints (SQLite's default: 1,000). A batch of
#: 1,000 events with random event ids dirties about 1,000 index pages, so the default copied them
#: into the database at nearly every commit; checkpointing less often copies a page that many
#: commits changed once (the measurements: bench/results/sqlite_ingest.md).
_AUTOCHECKPOINT = 16384
#: Rows read per look-up while the shopper map catches up (the lock is released in between).
_MAP_PAGE = 50_000

_EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a seq is never reused
    event_id TEXT UNIQUE,  -- NULLs are distinct: many events may have none
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, type TEXT NOT NULL, timestamp REAL NOT NULL,
    session_id TEXT, query TEXT, text TEXT, rating REAL, recommendation_id TEXT
);
-- no index on user_id: SQLiteEventLog keeps each shopper's seqs in memory instead (see there)
DROP INDEX IF EXISTS events_user_id;
"""
#: Columns in the order of the dataclass fields, so that a row maps to ``Event(*row)``.
_EVENT_FIELDS = tuple(f.name for f in fields(Event))
_EVENT_COLS = ", ".join(_EVENT_FIELDS)
_event_fields = attrgetter(*_EVENT_FIELDS)
#: SQLite's primary result codes of a store that cannot take a write now (busy, locked, I/O
#: error, full, cannot open): StoreUnavailable, not a bug.
_UNAVAILABLE = {5, 6, 10, 13, 14}
_LAST_SEQ = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
_EVENT_INSERT = f"INSERT INTO events ({_EVENT_COLS}) VALUES ({_marks(len(_EVENT_FIELDS))})"


class _SQLiteBase:
    """One locked connection in WAL mode, with the table created if missing."""

    def __init__(self, path: Path, schema: str, synchronous: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        conn = sqlite3.connect(
            self.path, timeout=_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA secure_delete=ON")  # erased rows are zeroed, not just unlinked
            conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT}")
            conn.executescript(schema)
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn
        log.info("opened %s (%s, synchronous=%s)", self.path, type(self).__name__, synchronous)

    def _db(self) -> sqlite3.Connection:
        """The open connection; call with the lock held."""
        if self._conn is None:
            raise sqlite3.ProgrammingError(f"{type(self).__name__} on {self.path} is closed")
        return self._conn

    def _write(self, statements: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``statements(conn)`` in one write transaction; commit, or roll back on error.

        ``BEGIN IMMEDIATE`` takes SQLite's write lock at once, so what ``statements`` reads
        cannot change before it writes, not even from another connection to the file.
        """
        with self._lock:
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = statements(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF not in _UNAVAILABLE:
                    raise
                # rolled back: nothing written; the caller answers 503, a retry may succeed
                raise StoreUnavailable(f"SQLite {self.path.name}: {exc}", 1.0) from exc
        return result

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of a read-only statement."""
        with self._lock:
            return self._db().execute(sql, params).fetchall()

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._query(sql, params)
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Close the connection; closing twice is allowed."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                log.info("closed %s (%s)", self.path, type(self).__name__)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _execute(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute(sql)


def _event_row(event: Event) -> list[Any]:
    row = list(_event_fields(event))
    row[2] = str(event_types.parse(row[2]))  # validates a plain-str type too
    return row


def _event(row: Sequence[Any]) -> Event:
    return Event(row[0], row[1], event_types.stored(row[2]), *row[3:])


class SQLiteEventLog(_SQLiteBase):
    """:class:`~shoprec.store.protocols.EventLog` in the ``events`` table of an SQLite file.

    Parameters
    ----------
    path : the database file (created if missing; its folder must exist).
    durability : ``"fsync"`` (default, as the setting's) for ``synchronous=FULL``: a committed
        append survives a power cut; ``"os"`` for ``NORMAL``: it survives a crash of the
        process only, for fewer fsyncs.
    """

    def __init__(self, path: Path, durability: Durability = "fsync") -> None:
        super().__init__(path, _EVENTS_SCHEMA, synchronous_for(durability))
        self.durability = durability
        self._add_columns()
        # Each shopper's seqs, for export and erasure, in place of an index on user_id: with
        # random shoppers, such an index dirtied a page per event of a batch, and writing
        # those pages cost about 40% of an append (bench/sqlite_ingest.py). Appends do not
        # touch the map; a look-up first reads the rows appended since the last one (by any
        # handle on the file) through the primary key. Stale seqs (rows erased through
        # another handle) are harmless: a seq is never reused.
        self._by_user: dict[str, array] = {}
        self._mapped = 0  # the highest seq read into _by_user
        # (first, last) seqs appended through this handle, kept once a follower asks
        # (serving/follow.py: its process's own events, told from other processes')
        self._own: list[tuple[int, int]] | None = None

    def _add_columns(self) -> None:
        """Columns of later :class:`Event` fields added to a log created before them (NULL in
        the old rows: the fields' default)."""
        have = {r[1] for r in self._query("PRAGMA table_info(events)")}
        for name in _EVENT_FIELDS:
            if name not in have:
                self._write(partial(_execute, sql=f"ALTER TABLE events ADD COLUMN {name} TEXT"))

    def append(self, events: Sequence[Event]) -> list[bool]:
        """Store ``events`` in one transaction; ``False`` marks a duplicate ``event_id``."""
        if not events:
            return []
        rows = [_event_row(e) for e in events]  # validate before taking the lock
        ids = list({e.event_id for e in events if e.event_id is not None})

        def insert(conn: sqlite3.Connection) -> list[bool]:
            seen: set[str] = set()
            for chunk, marks in _chunks(ids):
                sql = f"SELECT event_id FROM events WHERE event_id IN ({marks})"
                seen.update(r[0] for r in conn.execute(sql, chunk))
            stored: list[bool] = []
            new_rows = []
            for event, row in zip(events, rows, strict=True):
                fresh = event.event_id is None or event.event_id not in seen
                if fresh and event.event_id is not None:
                    seen.add(event.event_id)
                stored.append(fresh)
                if fresh:
                    new_rows.append(row)
            conn.executemany(_EVENT_INSERT, new_rows)
            if self._own is not None and new_rows:  # one transaction: the seqs are consecutive
                last = int(conn.execute(_LAST_SEQ).fetchone()[0])
                stored_seqs.append((last - len(new_rows) + 1, last))
            return stored

        stored_seqs: list[tuple[int, int]] = []
        stored = self._write(insert)
        if stored_seqs:  # committed
            with self._lock:
                if self._own is not None:
                    self._own += stored_seqs
        return stored

    def track_appends(self) -> None:
        """From now on, remember the seqs appended through this handle (:meth:`appended_here`)."""
        with self._lock:
            if self._own is None:
                self._own = []

    def appended_here(self, after: int) -> list[tuple[int, int]]:
        """The ``(first, last)`` seq ranges appended through this handle since
        :meth:`track_appends` that end after ``after`` (older ones are forgotten)."""
        with self._lock:
            own = [r for r in self._own or () if r[1] > after]
            if self._own is not None:
                self._own = own
            return list(own)

    def replay(self, after: int = 0, batch_size: int = 10_000) -> Iterator[tuple[int, Event]]:
        """Yield ``(seq, event)`` with ``seq > after`` in append order, fetched page by page.

        The lock is held only while a page is fetched, so appends go on during a replay;
        events appended before the last page is fetched are included.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return self._pages(int(after), batch_size)

    def _pages(self, after: int, batch_size: int) -> Iterator[tuple[int, Event]]:
        sql = f"SELECT seq, {_EVENT_COLS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
        while True:
            rows = self._query(sql, (after, batch_size))
            for row in rows:
                yield row[0], _event(row[1:])
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    def _catch_up(self, conn: sqlite3.Connection) -> bool:
        """Read up to :data:`_MAP_PAGE` rows appended since the last call into the shopper
        map (lock held); ``True`` if there may be more."""
        sql = "SELECT seq, user_id FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
        rows = conn.execute(sql, (self._mapped, _MAP_PAGE)).fetchall()
        by_user = self._by_user
        for seq, user in rows:
            seqs = by_user.get(user)
            if seqs is None:
                seqs = by_user[user] = array("q")
            seqs.append(seq)
        if rows:
            self._mapped = rows[-1][0]
        return len(rows) == _MAP_PAGE

    def _catch_up_all(self) -> None:
        """Read every row appended since the last call into the shopper map, a page per lock
        hold, so appends go on meanwhile."""
        while True:
            with self._lock:
                if not self._catch_up(self._db()):
                    return

    def _seqs(self, user_id: str) -> list[int]:
        """The seqs of ``user_id``'s events (some maybe erased through another handle)."""
        self._catch_up_all()
        with self._lock:
            return list(self._by_user.get(user_id, ()))

    def user_events(self, user_id: str) -> list[Event]:
        """All events of ``user_id`` in append order."""
        seqs, rows = self._seqs(user_id), []
        for chunk, marks in _chunks(seqs):
            sql = f"SELECT {_EVENT_COLS} FROM events WHERE seq IN ({marks}) ORDER BY seq"
            rows += self._query(sql, chunk)
        return [_event(r) for r in rows]

    def delete_user(self, user_id: str) -> int:
        """Erase every event of ``user_id`` (zeroed on disk, WAL checkpointed); return the count."""
        if not user_id:
            raise ValueError("user_id must be non-empty (an empty id would erase anonymous events)")
        return self._erase(user_id, lambda conn: list(self._by_user.get(user_id, ())), "user")

    def delete_session(self, session_id: str) -> int:
        """Erase session ``session_id``'s anonymous events (a table scan: erasures are rare)."""
        if not session_id:
            raise ValueError("session_id must be non-empty")
        sql = "SELECT seq FROM events WHERE user_id = '' AND session_id = ?"
        return self._erase("", lambda c: [r[0] for r in c.execute(sql, (session_id,))], "session")

    def _erase(self, user_id: str, find: Callable[..., list[int]], what: str) -> int:
        """Delete the rows ``find`` names, forget their seqs among ``user_id``'s (anonymous: "")."""
        self._catch_up_all()  # the bulk of it, before taking the write lock

        def erase(conn: sqlite3.Connection) -> tuple[list[int], int]:
            while self._catch_up(conn):  # under the write lock: no event of theirs can hide
                pass
            seqs, n = find(conn), 0
            for chunk, marks in _chunks(seqs):
                n += conn.execute(f"DELETE FROM events WHERE seq IN ({marks})", chunk).rowcount
            return seqs, n

        seqs, erased = self._write(erase)
        with self._lock:  # committed: forget those seqs (not ones appended since)
            gone = set(seqs)
            if left := array("q", (q for q in self._by_user.pop(user_id, ()) if q not in gone)):
                self._by_user[user_id] = left
        # secure_delete zeroed the rows; the checkpoint moves those pages out of the WAL too
        if erased and self._checkpoint(wait_ms=1000):
            log.warning("WAL checkpoint busy after erasing a %s; old pages remain in the WAL", what)
        log.info("erased %d events of one %s", erased, what)
        return erased

    def _checkpoint(self, wait_ms: int) -> bool:
        """Checkpoint and truncate the WAL, waiting at most ``wait_ms`` for readers; busy?"""
        with self._lock:
            conn = self._db()
            conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")  # writers wait meanwhile
            try:
                return bool(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(_TIMEOUT_S * 1000)}")

    def last_seq(self) -> int:
        """Highest ``seq`` ever assigned (0 if none); erasing events does not lower it."""
        value = self._scalar(_LAST_SEQ)
        return int(value or 0)

    def count(self) -> int:
        """Number of stored events."""
        return int(self._scalar("SELECT COUNT(*) FROM events"))
