"""The item catalog on Redis (:class:`RedisItemStore`): item JSON in a hash, first-insertion
order in a sorted set. Unreachable Redis: every method raises
:class:`~shoprec.store.errors.StoreUnavailable`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import redis

from shoprec.data.records import Item
from shoprec.store.redis_health import Breaker, guarded

# KEYS: items hash, added hash, order zset, position counter, revision counter, changed zset;
# ARGV: added_at, then (id, json). One call is one catalog revision (see changed_since).
_UPSERT = """
local rev = redis.call('INCR', KEYS[5])
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  redis.call('HSET', KEYS[1], id, ARGV[i + 1])
  if redis.call('HSETNX', KEYS[2], id, ARGV[1]) == 1 then
    redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), id)
  end
  redis.call('ZADD', KEYS[6], rev, id)
end
return rev
"""
#: The keys of :data:`_UPSERT`, after the prefix.
_KEYS = ("items", "item_added", "item_order", "item_pos", "item_rev", "item_changed")


class RedisItemStore:
    """:class:`~shoprec.store.protocols.ItemStore` in a Redis hash plus an order index."""

    def __init__(
        self, client: redis.Redis, prefix: str = "shoprec:", breaker: Breaker | None = None
    ) -> None:
        self.r: Any = client
        self.p = prefix
        self.breaker = breaker or Breaker()
        self._upsert = self.r.register_script(_UPSERT)

    @guarded
    def upsert(self, items: Sequence[Item], added_at: float) -> None:
        if not items:
            return
        argv: list[str] = [repr(float(added_at))]
        for it in items:
            argv += [it.item_id, json.dumps({**asdict(it), "category": list(it.category)})]
        self._upsert(keys=[self.p + k for k in _KEYS], args=argv)

    @guarded
    def get(self, item_id: str) -> Item | None:
        body = self.r.hget(self.p + "items", item_id)
        return _item(body) if body else None

    @guarded
    def all(self) -> list[tuple[Item, float]]:
        ids = [x.decode() for x in self.r.zrange(self.p + "item_order", 0, -1)]
        if not ids:
            return []
        bodies = self.r.hmget(self.p + "items", ids)
        added = self.r.hmget(self.p + "item_added", ids)
        return [(_item(b), float(a)) for b, a in zip(bodies, added, strict=True) if b]

    @guarded
    def changed_since(self, rev: int) -> tuple[list[tuple[Item, float]], int]:
        """The ``(item, added_at)`` upserted after revision ``rev`` (oldest change first), and
        the revision to ask from next time. A Redis restarted empty (its revision counter
        below ``rev``) answers every item it holds."""
        latest = int(self.r.get(self.p + "item_rev") or 0)
        if latest < rev:
            rev = 0
        key = self.p + "item_changed"
        found = self.r.zrangebyscore(key, f"({int(rev)}", "+inf", withscores=True)
        if not found:
            return [], int(rev)
        ids = [x.decode() for x, _ in found]
        bodies = self.r.hmget(self.p + "items", ids)
        added = self.r.hmget(self.p + "item_added", ids)
        out = [(_item(b), float(a)) for b, a in zip(bodies, added, strict=True) if b and a]
        return out, max(int(rev), *(int(score) for _, score in found))

    @guarded
    def count(self) -> int:
        return int(self.r.hlen(self.p + "items"))

    def close(self) -> None:
        self.r.close()


def _item(body: bytes | str) -> Item:
    d = json.loads(body)
    d["category"] = tuple(d["category"])
    return Item(**d)
