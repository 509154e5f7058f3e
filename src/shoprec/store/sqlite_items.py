"""Embedded SQLite implementation of :class:`~shoprec.store.protocols.ItemStore`, in the
``items`` table of the shop's database file (beside the event log's ``events`` table).

Every upsert stamps its rows with the next catalog revision (``rev``), so a process can ask
cheaply which items another process changed since it last looked (:meth:`changed_since`, one
index range scan): the running server follows ``shoprec import`` that way
(``serving/follow.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter
from pathlib import Path
from typing import Any

from shoprec.data.records import Item
from shoprec.store.sqlite import _marks, _SQLiteBase

_ITEMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,  -- first-insertion order (an upsert keeps it)
    item_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, description TEXT NOT NULL,
    category TEXT NOT NULL,  -- JSON list
    brand TEXT NOT NULL, price REAL, in_stock INTEGER NOT NULL,
    attributes TEXT NOT NULL,  -- JSON object
    added_at REAL NOT NULL,
    rev INTEGER NOT NULL DEFAULT 0  -- the catalog revision of the last upsert of the row
);
"""
_ITEM_FIELDS = tuple(f.name for f in fields(Item))
_ITEM_COLS = ", ".join(_ITEM_FIELDS)
_item_fields = attrgetter(*_ITEM_FIELDS)
_ITEM_UPSERT = (
    f"INSERT INTO items ({_ITEM_COLS}, added_at, rev) VALUES ({_marks(len(_ITEM_FIELDS) + 2)})"
    " ON CONFLICT (item_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_ITEM_FIELDS[1:], "rev"))  # added_at: the first
)


def _item_row(item: Item) -> list[Any]:
    row = list(_item_fields(item))
    row[3] = json.dumps(list(item.category), ensure_ascii=False)
    row[6] = int(bool(item.in_stock))
    row[7] = json.dumps(dict(item.attributes), ensure_ascii=False, sort_keys=True)
    return row


def _item(row: Sequence[Any]) -> Item:
    item_id, title, description, category, brand, price, in_stock, attrs = row
    cat = tuple(json.loads(category))
    return Item(item_id, title, description, cat, brand, price, bool(in_stock), json.loads(attrs))


class SQLiteItemStore(_SQLiteBase):
    """:class:`~shoprec.store.protocols.ItemStore` in the ``items`` table of an SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _ITEMS_SCHEMA, "NORMAL")
        have = {r[1] for r in self._query("PRAGMA table_info(items)")}
        if "rev" not in have:  # a store created before revisions: its rows are revision 0
            self._write(
                lambda c: c.execute("ALTER TABLE items ADD COLUMN rev INTEGER NOT NULL DEFAULT 0")
            )
        self._write(lambda c: c.execute("CREATE INDEX IF NOT EXISTS items_rev ON items (rev)"))

    def upsert(self, items: Sequence[Item], added_at: float) -> None:
        """Insert or replace ``items`` as one new revision; an item keeps its first
        ``added_at`` and position."""
        if not items:
            return
        rows = [(*_item_row(i), float(added_at)) for i in items]

        def write(conn: sqlite3.Connection) -> None:
            # under the write lock: no other upsert can take the same revision
            rev = conn.execute("SELECT COALESCE(MAX(rev), 0) + 1 FROM items").fetchone()[0]
            conn.executemany(_ITEM_UPSERT, [(*row, rev) for row in rows])

        self._write(write)

    def get(self, item_id: str) -> Item | None:
        """The item with ``item_id``, or ``None``."""
        rows = self._query(f"SELECT {_ITEM_COLS} FROM items WHERE item_id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    def all(self) -> list[tuple[Item, float]]:
        """Every ``(item, added_at)`` in first-insertion order."""
        rows = self._query(f"SELECT {_ITEM_COLS}, added_at FROM items ORDER BY pos")
        return [(_item(r[:-1]), float(r[-1])) for r in rows]

    def changed_since(self, rev: int) -> tuple[list[tuple[Item, float]], int]:
        """The ``(item, added_at)`` upserted after revision ``rev`` (first-insertion order),
        and the revision to ask from next time (``rev`` when nothing changed)."""
        sql = f"SELECT {_ITEM_COLS}, added_at, rev FROM items WHERE rev > ? ORDER BY pos"
        rows = self._query(sql, (int(rev),))
        latest = max([int(rev), *(int(r[-1]) for r in rows)])
        return [(_item(r[:-2]), float(r[-2])) for r in rows], latest

    def count(self) -> int:
        """Number of items."""
        return int(self._scalar("SELECT COUNT(*) FROM items"))
