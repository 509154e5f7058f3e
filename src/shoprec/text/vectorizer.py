"""Texts -> unit vectors for serving: item texts through the content-hash cache, ad-hoc texts
(search queries, questions) through a bounded in-memory one; the encoder loads on first need.

Item texts are encoded on one thread of their own at a lower CPU priority (an upsert's
encoding took a core for 15-50 ms, during which a search waited for the other with the event
loop and everything else on the machine: the search p99 under upserts), and a request's few
texts on one torch thread (:func:`~shoprec.text.encoder.one_thread`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from shoprec.settings import Settings
from shoprec.text.encoder import DIM, TextEncoder, VectorCache, one_thread

#: Query vectors kept in memory by :meth:`Vectorizer.queries`.
QUERY_MEMORY = 10_000
#: Nice value of the item encoder's thread: when the cores are full the kernel runs the
#: requests' threads first, and an upsert waits a little longer instead (search p99 on Beauty
#: under 10 renames/s at load 9: 20 and 23 ms at nice 10, 58 and 72 ms at nice 0).
ENCODER_NICE = 10
#: Up to this many texts are a request's (one torch thread); more use every thread.
REQUEST_TEXTS = 64


def _lower_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: a thread's nice is its own)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENCODER_NICE)
    except (AttributeError, OSError):  # not Linux: the encoder still works, unprioritised
        pass


class Vectorizer:
    """Texts -> unit vectors through the content-hash cache; the encoder loads on first need."""

    def __init__(self, settings: Settings) -> None:
        self.cache = VectorCache(settings.text_cache)
        self._encoder: TextEncoder | None = None
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()  # least recent first
        self._items: ThreadPoolExecutor | None = None  # the item encoder's thread
        self._items_pid = 0  # the process that started it (threads do not survive a fork)

    @property
    def encoder(self) -> TextEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = TextEncoder()
            return self._encoder

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            have_all = all(not t or self.cache.has(t) for t in texts)
        if have_all:
            return self.cache.embed(texts)
        # on the item encoder's thread, one call at a time: a text asked for twice at once
        # (an upsert and the store follower) is encoded once
        encoder = self.encoder
        with self._lock:
            if self._items is None or self._items_pid != os.getpid():
                self._items = ThreadPoolExecutor(1, "item-encoder", initializer=_lower_priority)
                self._items_pid = os.getpid()
            items = self._items
        return items.submit(self._encode_items, texts, encoder).result()

    def _encode_items(self, texts: list[str], encoder: TextEncoder) -> np.ndarray:
        if len(texts) > REQUEST_TEXTS:
            return self.cache.embed(texts, encoder)
        with one_thread():
            return self.cache.embed(texts, encoder)

    def queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for ad-hoc texts (search queries, questions). They never enter the item
        cache, which would grow by every query ever asked (and once rewrote its whole file per
        miss: the soak's rising p99). The latest :data:`QUERY_MEMORY` stay in memory."""
        out = np.zeros((len(texts), DIM), np.float32)
        missing = [t for t in dict.fromkeys(texts) if t and t not in self._queries]
        if missing:
            encoder = self.encoder
            with one_thread():
                vecs = encoder.encode(missing)
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
