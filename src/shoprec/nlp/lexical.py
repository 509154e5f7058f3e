"""Lexical product search on SQLite FTS5 (the standard library's sqlite3): BM25 over each item's
title and the rest of its text, kept current row by row as the catalog changes.

Before each query the index re-reads only the rows the catalog stamped since it last looked
(:attr:`Catalog.stamp`), so a renamed item is found by its new name on the very next query and
no longer by its old one; nothing is ever refitted whole.
"""

from __future__ import annotations

import re
import sqlite3
import threading

import numpy as np

from shoprec.data.records import Item
from shoprec.ranking.catalog import Catalog

#: BM25 weight of the title against the rest of the text (brand, category path, description).
TITLE_WEIGHT, BODY_WEIGHT = 2.0, 1.0
#: Porter stemming over unicode61 words: "serums" finds "serum", "crème" finds "creme".
TOKENIZE = "porter unicode61 remove_diacritics 2"
#: At most this many query words are used (a pasted paragraph is not a query).
MAX_TERMS = 32
WORD = re.compile(r"\w+")


def _fields(item: Item | None, item_id: str) -> tuple[str, str]:
    if item is None:
        return "", ""
    body = [f"{item.brand}." if item.brand else "", " > ".join(item.category), item.description]
    return item.title or item_id, " ".join(p for p in body if p)


def match_expression(query: str) -> str:
    """The FTS5 query for free text: any of its words (each quoted, so no word is read as an
    operator or a column name); empty when it has none."""
    words = list(dict.fromkeys(w for w in WORD.findall(query.casefold())))[:MAX_TERMS]
    return " OR ".join(f'"{w}"' for w in words)


class LexicalIndex:
    """An in-memory FTS5 table over ``catalog``, row id = catalog index.

    One connection, serialised by a lock: queries take well under a millisecond, and the
    server runs them in worker threads (the search route is synchronous).
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute(
            f"CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize='{TOKENIZE}')"
        )
        # ORDER BY rank ranks by this weighted bm25 (FTS5's persistent rank setting)
        self._db.execute(
            "INSERT INTO docs(docs, rank) VALUES('rank', ?)",
            (f"bm25({TITLE_WEIGHT}, {BODY_WEIGHT})",),
        )
        self._lock = threading.Lock()
        self._done = 0  # every upsert up to this catalog generation is indexed
        self._filled = False  # the first sync fills an empty table (nothing to delete)
        # the rows the next generation had stamped when last looked (that upsert may still
        # have been writing), with the item each held then
        self._fresh: dict[int, Item | None] = {}

    def sync(self) -> int:
        """Index the rows the catalog changed since the last call; returns how many."""
        with self._lock:
            cat = self.catalog
            # Catalog.upsert counts the generation up, then writes and stamps its rows, under
            # its lock: upsert ``gen`` may still be writing, every earlier one has finished
            gen = cat.generation
            stamp = cat.stamp[: len(cat) + 1]
            if gen == self._done or (
                gen == self._done + 1 and np.count_nonzero(stamp == gen) == len(self._fresh)
            ):
                return 0  # nothing stamped since the last look
            fresh: dict[int, Item | None] = {}
            docs = []
            for i in np.flatnonzero(stamp > self._done).tolist():
                done = stamp[i] == gen  # the stamp first: it is written after the row
                item = cat.items[i]
                if done:
                    fresh[i] = item
                if i not in self._fresh or self._fresh[i] is not item:
                    docs.append((i, *_fields(item, cat.ids[i])))
            if docs:
                db = self._db
                db.execute("BEGIN")
                if self._filled:
                    db.executemany("DELETE FROM docs WHERE rowid = ?", [(d[0],) for d in docs])
                db.executemany("INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)", docs)
                db.execute("COMMIT")
            self._filled = True
            self._done, self._fresh = gen - 1, fresh
            return len(docs)

    def search(self, query: str, limit: int, below: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``limit`` best matches of ``query`` among rows ``< below``: ``(ids, scores)``,
        best first, scores positive (negated BM25)."""
        expr = match_expression(query)
        self.sync()
        if not expr:
            return np.zeros(0, np.int64), np.zeros(0)
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, rank FROM docs WHERE docs MATCH ? AND rowid < ? "
                "ORDER BY rank LIMIT ?",
                (expr, below, limit),
            ).fetchall()
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        return ids, -np.fromiter((r[1] for r in rows), np.float64, len(rows))
