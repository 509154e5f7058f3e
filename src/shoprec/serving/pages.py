"""Recommendation ids and pages of served lists.

Every list answer (feed, similar items, search, ``/v1/rank``) gets a ``recommendation_id``
(:meth:`Pages.record` or :meth:`Pages.serve`); events and feedback may name it. The ids of the
items a list has shown so far are remembered under that id for ``ttl_s`` after its latest page,
so a next page is computed afresh (it sees the events that arrived in between) but without any
item shown before: page 2 never repeats page 1. A request names its list by ``cursor`` (the
recommendation id) or, Gorse-style, by ``offset`` alone (then the shopper's latest list with the
same parameters is continued). Memory is bounded: at most ``max_lists`` lists (least recently
used dropped first), each at most :data:`MAX_SHOWN` items, each forgotten ``ttl_s`` after its
last page. Embedded: in this process; over Redis: in Redis, so any worker serves the next page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import redis
from cachetools import TTLCache

from shoprec.store.errors import StoreUnavailable
from shoprec.store.redis_health import Breaker, guarded

if TYPE_CHECKING:
    from shoprec.serving.shared import SharedState
    from shoprec.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The deepest offset a page may start at (a list remembers at most MAX_OFFSET + 100 items).
MAX_OFFSET = 1000
MAX_SHOWN = MAX_OFFSET + 100
#: A recommendation id (and so a cursor): URL-safe, what :func:`new_id` makes.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def new_id() -> str:
    """A fresh recommendation id (96 random bits, URL-safe)."""
    return secrets.token_urlsafe(12)


def owner_of(*parts: Any) -> str:
    """A short digest of what names a list: shopper, item or query, and the filters."""
    raw = json.dumps(parts, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


class PageError(ValueError):
    """A cursor that names no list this request may continue: ``status`` 404 when the list is
    unknown or expired (a well-formed id the server does not hold: a miss, like an unknown
    item), 422 when it is another shopper's, query's or filters' list."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.status = field, status


class PageStore(Protocol):
    def get(self, key: str) -> dict | None: ...
    def put(self, key: str, value: dict) -> None: ...


class MemoryPageStore:
    """This process's lists: a TTL cache (expired after ``ttl_s``, LRU beyond ``max_lists``)."""

    def __init__(self, ttl_s: float, max_lists: int) -> None:
        # two keys per list: the list itself and its parameters' "latest" pointer
        self._cache: TTLCache[str, dict] = TTLCache(maxsize=2 * max_lists, ttl=ttl_s)
        self._lock = threading.Lock()  # routes run on the loop and in the thread pool

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            self._cache[key] = value


class RedisPageStore:
    """The lists in Redis (one JSON string per key, expiring after ``ttl_s``): every worker
    and replica continues the same list."""

    def __init__(
        self, client: redis.Redis, prefix: str, ttl_s: float, breaker: Breaker | None = None
    ) -> None:
        self.r, self.p, self.ttl = client, prefix + "pages:", max(1, round(ttl_s))
        self.breaker = breaker or Breaker()

    @guarded
    def get(self, key: str) -> dict | None:
        body = self.r.get(self.p + key)
        return json.loads(body) if body else None

    @guarded
    def put(self, key: str, value: dict) -> None:
        self.r.set(self.p + key, json.dumps(value, separators=(",", ":")), ex=self.ttl)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    recommendation_id: str
    offset: int
    items: list[T]


class Pages:
    """Recommendation ids and the items each list has shown (see the module docstring).

    Parameters
    ----------
    store : where lists are remembered (default: this process, 30 min, 50,000 lists).
    """

    def __init__(self, store: PageStore | None = None) -> None:
        self.store: PageStore = store or MemoryPageStore(1800.0, 50_000)

    def record(self, kind: str, item_ids: Sequence[str], owner: str = "") -> str:
        """A new recommendation id for a list just served (``kind``: feed, similar, search,
        rank; ``owner``: :func:`owner_of` what names it), remembered with its items."""
        rid = new_id()
        self._remember(rid, kind, owner, list(item_ids[:MAX_SHOWN]))
        return rid

    def lookup(self, recommendation_id: str) -> dict | None:
        """The remembered list (``kind``, ``owner``, ``shown`` item ids), or None."""
        return self.store.get(recommendation_id)

    def serve(
        self,
        kind: str,
        owner: str,
        n: int,
        offset: int | None,
        cursor: str | None,
        compute: Callable[[int, frozenset[str]], list[T]],
        item_of: Callable[[T], str],
    ) -> Page[T]:
        """The page at ``offset`` (default: the next one of ``cursor``'s list, else 0) of the
        list ``cursor`` names, else of this ``owner``'s latest list when ``offset`` > 0, else
        of a new list. ``compute(k, shown)`` returns up to ``k`` items, none in ``shown``.
        Asking an offset again recomputes from there (still without the items before it); a
        list ends after :data:`MAX_OFFSET` items (then pages are empty). Raises
        :class:`PageError` for an unknown, expired or foreign cursor; ``StoreUnavailable``
        when a cursor cannot be looked up now."""
        rid, shown = self._find(kind, owner, offset, cursor)
        start = len(shown) if offset is None else offset
        if start > MAX_OFFSET:  # the end of the list (memory is bounded)
            return Page(rid, start, [])
        shown = shown[:start]  # the items before the page stay excluded
        taken = frozenset(shown)
        gap = start - len(shown)  # an offset past the list so far: compute the gap as well
        fresh = [x for x in compute(gap + n, taken) if item_of(x) not in taken][: gap + n]
        self._remember(rid, kind, owner, shown + [item_of(x) for x in fresh])
        return Page(rid, start, fresh[gap:])

    def _find(
        self, kind: str, owner: str, offset: int | None, cursor: str | None
    ) -> tuple[str, list[str]]:
        if cursor is not None:
            rec = self.store.get(cursor)
            if rec is None:
                msg = "unknown or expired; ask for the first page without it"
                raise PageError("cursor", msg, 404)
            if rec["kind"] != kind or rec["owner"] != owner:
                raise PageError("cursor", f"names another list (not this {kind}'s parameters)")
            return cursor, list(rec["shown"])
        if offset:  # no cursor: continue the shopper's latest list of these parameters
            try:
                latest = self.store.get(f"latest:{kind}:{owner}")
                rec = self.store.get(latest["rid"]) if latest else None
            except StoreUnavailable:  # the list is still answered, from the top
                latest = rec = None
            if latest and rec is not None:
                return latest["rid"], list(rec["shown"])
        return new_id(), []

    def _remember(self, rid: str, kind: str, owner: str, shown: list[str]) -> None:
        try:
            self.store.put(rid, {"kind": kind, "owner": owner, "shown": shown[:MAX_SHOWN]})
            if owner:
                self.store.put(f"latest:{kind}:{owner}", {"rid": rid})
        except StoreUnavailable as exc:  # the answer is served; only its next page may repeat
            log.warning("list %s not remembered: %s", rid, exc)


def pages_for(settings: Settings, shared: SharedState | None = None) -> Pages:
    """The served lists' memory the settings ask for: in Redis beside the shared state (any
    worker continues a list), else in this process."""
    ttl = settings.page_ttl_s
    if shared is not None:
        return Pages(RedisPageStore(shared.client, shared.prefix, ttl, shared.breaker))
    return Pages(MemoryPageStore(ttl, settings.page_max_lists))
