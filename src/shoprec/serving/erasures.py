"""Erasures announced to every process serving the shop (workers, replicas): the process that
handles ``DELETE /v1/users/{id}`` (or ``/v1/sessions/{id}``) erases the stores, but what other
processes hold in memory (the scored reviews whose highlights the API shows, the storefront's
cached shopper sample) only they can drop.

Over Redis, an erasure is announced in a short stream, ``<prefix>erasures``, of digests only
(BLAKE2b of the shopper key and of each review id): the announcement names nobody in clear,
and entries older than :data:`KEEP_S` are trimmed at the next announcement. Each process's
stream follower reads it about once a second (:meth:`ErasureNews.read`) and drops what
matches. The embedded store is served by one process: nothing to announce.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

#: Seconds an announcement stays in the stream (every live process has read it by then).
KEEP_S = 3600


def digest(text: str) -> str:
    """The name an announcement uses for a shopper key or a review id."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class ErasureNews:
    """The announcements stream of one shop.

    Parameters
    ----------
    client : a ``redis.Redis`` client.
    prefix : the shop's key prefix.
    """

    def __init__(self, client: Any, prefix: str) -> None:
        self.r, self.key = client, prefix + "erasures"
        self.position = "0-0"  # announcements older than this process change nothing in it

    def announce(self, keys: Iterable[str], review_ids: Iterable[str]) -> None:
        """Tell every process that the shoppers ``keys`` and their reviews were erased."""
        oldest = int((time.time() - KEEP_S) * 1000)
        body = {
            "keys": json.dumps(sorted(digest(k) for k in keys)),
            "reviews": json.dumps(sorted(digest(r) for r in review_ids)),
        }
        self.r.xadd(self.key, body, minid=str(oldest), approximate=False)

    def read(self) -> tuple[set[str], set[str]]:
        """Digests of the shopper keys and review ids erased since the last read."""
        keys: set[str] = set()
        reviews: set[str] = set()
        for entry_id, fields in self.r.xrange(self.key, min=f"({self.position}", max="+"):
            keys.update(json.loads(fields[b"keys"]))
            reviews.update(json.loads(fields[b"reviews"]))
            self.position = entry_id.decode()
        return keys, reviews
