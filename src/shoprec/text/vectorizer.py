"""Texts -> unit vectors for serving: item texts through the content-hash cache, ad-hoc texts
(search queries, questions) through a bounded in-memory one; the encoder loads on first need."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from shoprec.settings import Settings
from shoprec.text.encoder import DIM, TextEncoder, VectorCache

#: Query vectors kept in memory by :meth:`Vectorizer.queries`.
QUERY_MEMORY = 10_000


class Vectorizer:
    """Texts -> unit vectors through the content-hash cache; the encoder loads on first need."""

    def __init__(self, settings: Settings) -> None:
        self.cache = VectorCache(settings.text_cache)
        self._encoder: TextEncoder | None = None
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()  # least recent first

    @property
    def encoder(self) -> TextEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = TextEncoder()
            return self._encoder

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            have_all = all(not t or self.cache.has(t) for t in texts)
        return self.cache.embed(texts, None if have_all else self.encoder)

    def queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for ad-hoc texts (search queries, questions). They never enter the item
        cache, which would grow by every query ever asked (and once rewrote its whole file per
        miss: the soak's rising p99). The latest :data:`QUERY_MEMORY` stay in memory."""
        out = np.zeros((len(texts), DIM), np.float32)
        missing = [t for t in dict.fromkeys(texts) if t and t not in self._queries]
        if missing:
            vecs = self.encoder.encode(missing)
            with self._lock:
                self._queries.update(zip(missing, vecs, strict=True))
                while len(self._queries) > QUERY_MEMORY:
                    self._queries.popitem(last=False)
        with self._lock:
            for k, t in enumerate(texts):
                if t in self._queries:
                    self._queries.move_to_end(t)
                    out[k] = self._queries[t]
        return out
