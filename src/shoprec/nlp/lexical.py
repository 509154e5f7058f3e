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

from shoprec.ranking.catalog import Catalog

#: BM25 weight of the title against the rest of the text (brand, category path, description).
TITLE_WEIGHT, BODY_WEIGHT = 2.0, 1.0
#: Porter stemming over unicode61 words: "serums" finds "serum", "crème" finds "creme".
TOKENIZE = "porter unicode61 remove_diacritics 2"
#: At most this many query words are used (a pasted paragraph is not a query).
MAX_TERMS = 32
WORD = re.compile(r"\w+")


def _fields(catalog: Catalog, idx: int) -> tuple[str, str]:
    item = catalog.items[idx]
    if item is None:
        return "", ""
    body = [f"{item.brand}." if item.brand else "", " > ".join(item.category), item.description]
    return item.title or item.item_id, " ".join(p for p in body if p)


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
        self._seen = 0  # catalog generation indexed so far

    def sync(self) -> int:
        """Index the rows the catalog changed since the last call; returns how many."""
        with self._lock:
            cat = self.catalog
            gen = cat.generation  # read first: rows stamped later are taken again next time
            if gen == self._seen:
                return 0
            rows = np.flatnonzero(cat.stamp[: len(cat) + 1] > self._seen).tolist()
            docs = [(i, *_fields(cat, i)) for i in rows]
            db = self._db
            db.execute("BEGIN")
            if self._seen:  # the first sync fills an empty table
                db.executemany("DELETE FROM docs WHERE rowid = ?", [(i,) for i in rows])
            db.executemany("INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)", docs)
            db.execute("COMMIT")
            self._seen = gen
            return len(rows)

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
