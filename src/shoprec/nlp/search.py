"""Product search: lexical (TF-IDF over titles and text) plus semantic (the text encoder),
fused by reciprocal rank, then re-ranked for the shopper.

The lexical index is rebuilt lazily after catalog changes (at most every ``rebuild_s``); an
item added in between is still found through its text vector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from shoprec.ranking.catalog import Catalog

RRF_K = 60.0
POOL = 200


class ProductSearch:
    """Parameters
    ----------
    catalog : the live catalog (its text vectors are the semantic index).
    embed : query texts -> ``(N, 384)`` unit vectors.
    rebuild_s : minimum seconds between lexical index rebuilds.
    """

    def __init__(
        self, catalog: Catalog, embed: Callable[[list[str]], np.ndarray], rebuild_s: float = 30.0
    ) -> None:
        self.catalog, self.embed, self.rebuild_s = catalog, embed, rebuild_s
        self._lock = threading.Lock()
        self._built_n = -1
        self._built_at = 0.0
        self._vectorizer = None
        self._matrix = None  # (N + 1, V) csr, row 0 empty

    def _lexical_index(self) -> None:
        n = len(self.catalog)
        if self._matrix is not None and n == self._built_n:
            return
        from scipy.sparse import vstack
        from sklearn.feature_extraction.text import TfidfVectorizer

        with self._lock:
            texts = [it.text() if it else "" for it in self.catalog.items[: n + 1]]
            texts[0] = ""
            if self._matrix is None or time.monotonic() - self._built_at > self.rebuild_s:
                vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, max_df=0.5)
                self._matrix = vec.fit_transform(texts).tocsr()
                self._vectorizer = vec
                self._built_at = time.monotonic()
            elif n > self._built_n:
                # items added since the last fit are searchable at once, in its vocabulary
                # (a refit, which learns their new words, waits for rebuild_s)
                assert self._vectorizer is not None
                added = self._vectorizer.transform(texts[self._built_n + 1 :])
                self._matrix = vstack([self._matrix, added]).tocsr()
            self._built_n = n

    def search(self, query: str, n_rows: int, pool: int = POOL) -> tuple[np.ndarray, np.ndarray]:
        """Fused candidates for ``query``: ``(ids, rrf scores)``, best first, ids < n_rows."""
        self._lexical_index()
        assert self._vectorizer is not None and self._matrix is not None
        lex = np.asarray((self._matrix @ self._vectorizer.transform([query]).T).todense()).ravel()
        lex = np.pad(lex, (0, max(0, n_rows - len(lex))))[:n_rows]
        vectors = self.catalog.view()[0][:n_rows]
        sem = vectors @ self.embed([query])[0]
        sem[0] = -np.inf
        fused = np.zeros(n_rows)
        for scores, floor in ((lex, 0.0), (sem, -np.inf)):
            k = min(pool, n_rows - 1)
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            top = top[scores[top] > floor]
            fused[top] += 1.0 / (RRF_K + np.arange(1, len(top) + 1))
        ids = np.flatnonzero(fused > 0)
        order = np.argsort(-fused[ids], kind="stable")
        return ids[order], fused[ids][order]
