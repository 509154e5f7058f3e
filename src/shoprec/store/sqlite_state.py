"""A durable :class:`~shoprec.store.protocols.StateStore` in an SQLite table: small JSON-able
records (experiments, their per-user attribution) that must survive a restart, unlike the
in-memory shopper state that is rebuilt from the event log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from shoprec.store.sqlite import _SQLiteBase

S = TypeVar("S")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY, body TEXT NOT NULL, pos INTEGER NOT NULL
);
"""


class SQLiteStateStore(_SQLiteBase, Generic[S]):
    """:class:`~shoprec.store.protocols.StateStore` in the ``records`` table of an SQLite file.

    Parameters
    ----------
    path : the database file (may be the event log's ``shoprec.db``: another table).
    encode, decode : state <-> JSON-able dict (the same codec as
        :class:`~shoprec.store.redis_state.RedisStateStore`, so either backs the same code).
    table : table name, so that several stores share one file.

    Every :meth:`put` is one committed transaction: it survives a crash of the process.
    """

    def __init__(
        self,
        path: Path,
        encode: Callable[[S], dict[str, Any]],
        decode: Callable[[dict[str, Any]], S],
        table: str = "records",
    ) -> None:
        if not table.isidentifier():
            raise ValueError(f"table must be an identifier, got {table!r}")
        self.table = table
        super().__init__(path, _SCHEMA.replace("records", table), "NORMAL")
        self.enc, self.dec = encode, decode
        self._select = f"SELECT body FROM {table} WHERE key = ?"
        self._delete = f"DELETE FROM {table} WHERE key = ?"
        self._upsert = (  # a key keeps its first position
            f"INSERT INTO {table} (key, body, pos) VALUES "
            f"(?, ?, (SELECT COALESCE(MAX(pos), 0) + 1 FROM {table})) "
            "ON CONFLICT (key) DO UPDATE SET body = excluded.body"
        )

    def _body(self, state: S) -> str:
        return json.dumps(self.enc(state), separators=(",", ":"))

    def get(self, user_id: str) -> S | None:
        """The state stored under ``user_id``, or ``None``."""
        rows = self._query(self._select, (user_id,))
        return self.dec(json.loads(rows[0][0])) if rows else None

    def put(self, user_id: str, state: S) -> None:
        """Set (or replace) the state of ``user_id``; a key keeps its first position."""
        body = self._body(state)
        self._write(lambda conn: conn.execute(self._upsert, (user_id, body)))

    def update(
        self, key: str, fn: Callable[[S | None], tuple[S | None, Mapping[str, S]]]
    ) -> tuple[S | None, S | None]:
        """``fn(old)`` -> ``(new, puts)`` in one ``BEGIN IMMEDIATE`` transaction: SQLite's
        write lock is held from the read on, so other processes on the file wait."""

        def run(conn: sqlite3.Connection) -> tuple[S | None, S | None]:
            row = conn.execute(self._select, (key,)).fetchone()
            old = self.dec(json.loads(row[0])) if row else None
            new, puts = fn(old)
            if new is None:
                conn.execute(self._delete, (key,))
            else:
                conn.execute(self._upsert, (key, self._body(new)))
            for other, state in puts.items():
                conn.execute(self._upsert, (other, self._body(state)))
            return old, new

        return self._write(run)

    def delete(self, user_id: str) -> bool:
        """Remove the state of ``user_id``; ``True`` if there was one."""
        return bool(self._write(lambda c: c.execute(self._delete, (user_id,)).rowcount))

    def users(self) -> list[str]:
        """Keys with a state, in first-put order."""
        return [r[0] for r in self._query(f"SELECT key FROM {self.table} ORDER BY pos")]

    def items(self, prefix: str = "") -> list[tuple[str, S]]:
        """Every ``(key, state)`` whose key starts with ``prefix``, in first-put order (one
        query: a restart reloads thousands of records at once)."""
        sql = f"SELECT key, body FROM {self.table} WHERE substr(key, 1, ?) = ? ORDER BY pos"
        rows = self._query(sql, (len(prefix), prefix))
        return [(k, self.dec(json.loads(b))) for k, b in rows]

    def __len__(self) -> int:
        return int(self._scalar(f"SELECT COUNT(*) FROM {self.table}"))

    def clear(self) -> None:
        """Remove every state."""
        self._write(lambda c: c.execute(f"DELETE FROM {self.table}"))
