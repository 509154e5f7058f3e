"""Lexical engines side by side on Beauty's titles: SQLite FTS5 (standard library) and bm25s.
Index build, query latency (the same queries, top 200) and the cost of one renamed item: FTS5
deletes and inserts a row; bm25s has no update, so its index is rebuilt.

    pip install bm25s   # not a shoprec dependency: only this comparison reads it
    python bench/search_lexical.py [--data data/amazon_beauty/items.csv]

Prints a markdown table (copied by hand under "Lexical engine" in bench/results/search.md).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sqlite3
import time

import bm25s
import numpy as np

WORD = re.compile(r"\w+")


def fts5(titles: list[str]) -> tuple[sqlite3.Connection, float]:
    t = time.perf_counter()
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, tokenize='porter unicode61')")
    db.execute("BEGIN")
    db.executemany("INSERT INTO docs(rowid, title) VALUES (?, ?)", enumerate(titles, 1))
    db.execute("COMMIT")
    return db, time.perf_counter() - t


def fts5_query(db: sqlite3.Connection, q: str) -> list[int]:
    expr = " OR ".join(f'"{w}"' for w in dict.fromkeys(WORD.findall(q.casefold())))
    sql = "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 200"
    return [r[0] for r in db.execute(sql, (expr,))]


def bm25s_index(titles: list[str]) -> tuple[bm25s.BM25, float]:
    t = time.perf_counter()
    model = bm25s.BM25()
    model.index(bm25s.tokenize(titles, stopwords="en", show_progress=False), show_progress=False)
    return model, time.perf_counter() - t


def ms(times: list[float]) -> str:
    a = np.asarray(times) * 1000
    return f"{np.percentile(a, 50):.2f} / {np.percentile(a, 99):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/amazon_beauty/items.csv")
    args = ap.parse_args()
    with open(args.data, newline="") as f:
        titles = [row["title"] or row["item_id"] for row in csv.DictReader(f)]
    rng = random.Random(3)
    queries = []
    for t in rng.sample(titles, 300):
        words = [w for w in WORD.findall(t.lower()) if w.isalpha() and len(w) > 2] or ["serum"]
        k = rng.randint(1, min(3, len(words)))
        queries.append(" ".join(words[:k]))

    db, fts_build = fts5(titles)
    fts_q = []
    for q in queries:
        t = time.perf_counter()
        fts5_query(db, q)
        fts_q.append(time.perf_counter() - t)
    t = time.perf_counter()
    db.execute("DELETE FROM docs WHERE rowid = 5")
    db.execute("INSERT INTO docs(rowid, title) VALUES (5, 'zorvikal renamed item')")
    fts_update = time.perf_counter() - t

    model, bm_build = bm25s_index(titles)
    bm_q = []
    for q in queries:
        t = time.perf_counter()
        model.retrieve(
            bm25s.tokenize([q], stopwords="en", show_progress=False),
            k=200,
            show_progress=False,
            n_threads=1,
        )
        bm_q.append(time.perf_counter() - t)

    print(f"{len(titles)} titles, {len(queries)} queries (1 to 3 title words), top 200\n")
    print("| engine | build ms | query p50 / p99 ms | one rename ms |")
    print("|---|---|---|---|")
    print(
        f"| SQLite FTS5 {sqlite3.sqlite_version} | {fts_build * 1000:.0f} | {ms(fts_q)} "
        f"| {fts_update * 1000:.2f} (delete + insert) |"
    )
    print(
        f"| bm25s {bm25s.__version__} | {bm_build * 1000:.0f} | {ms(bm_q)} "
        f"| {bm_build * 1000:.0f} (no update: rebuild) |"
    )


if __name__ == "__main__":
    main()
