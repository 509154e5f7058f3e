"""Redis implementations of the store protocols, for API replicas that share state.

- :class:`RedisEventLog`: a Redis Stream whose entry ids are ``<seq>-0`` (seq from ``INCR``),
  so ``replay(after)`` is one ``XRANGE``; a set of seen ``event_id`` values makes appends
  idempotent; both happen in one Lua script, atomically across replicas. A per-user list of
  entry ids makes erasure ``O(user's events)``.
- :class:`RedisItemStore`: item JSON in a hash, first-insertion order in a sorted set.
- :class:`RedisStateStore`: one string per shopper (a codec turns states into bytes), with an
  optional TTL (anonymous sessions expire).

Durability is Redis's: with AOF (``appendfsync everysec`` or ``always``) an acknowledged event
survives a Redis restart; the development Redis of this project runs without persistence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any, Generic, TypeVar

import redis

from shoprec.data.records import Event, EventType, Item

S = TypeVar("S")

# KEYS: seq counter, stream, seen ids; ARGV: user key prefix, then per event (event_id or "",
# user_id, json). Returns 1/0 per event.
_APPEND = """
local out = {}
local n = (#ARGV - 1) / 3
for i = 0, n - 1 do
  local eid, user, body = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  local fresh = 1
  if eid ~= '' then fresh = redis.call('SADD', KEYS[3], eid) end
  if fresh == 1 then
    local seq = redis.call('INCR', KEYS[1])
    local id = seq .. '-0'
    redis.call('XADD', KEYS[2], id, 'e', body)
    redis.call('RPUSH', ARGV[1] .. user, id)
  end
  out[#out + 1] = fresh
end
return out
"""


# KEYS: items hash, added hash, order zset, position counter; ARGV: added_at, then (id, json)
_UPSERT = """
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  redis.call('HSET', KEYS[1], id, ARGV[i + 1])
  if redis.call('HSETNX', KEYS[2], id, ARGV[1]) == 1 then
    redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), id)
  end
end
return 1
"""


def _event_json(e: Event) -> str:
    d = asdict(e)
    d["type"] = EventType(e.type).value
    return json.dumps(d, separators=(",", ":"))


def _event(body: bytes | str) -> Event:
    d = json.loads(body)
    d["type"] = EventType(d["type"])
    return Event(**d)


class RedisEventLog:
    """:class:`~shoprec.store.protocols.EventLog` on a Redis Stream.

    Parameters
    ----------
    client : a ``redis.Redis`` client (its connection pool is thread-safe).
    prefix : key prefix (one log per prefix).
    """

    def __init__(self, client: redis.Redis, prefix: str = "shoprec:") -> None:
        self.r: Any = client  # redis-py's return types are unions of everything: opt out
        self.p = prefix
        self._append = self.r.register_script(_APPEND)

    @classmethod
    def from_url(cls, url: str, prefix: str = "shoprec:") -> RedisEventLog:
        return cls(redis.Redis.from_url(url), prefix)

    def append(self, events: Sequence[Event]) -> list[bool]:
        if not events:
            return []
        argv: list[str] = [self.p + "user:"]
        for e in events:
            argv += [e.event_id or "", e.user_id, _event_json(e)]
        keys = [self.p + "seq", self.p + "events", self.p + "event_ids"]
        return [bool(x) for x in self._append(keys=keys, args=argv)]

    def replay(self, after: int = 0, batch_size: int = 10_000) -> Iterator[tuple[int, Event]]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return self._pages(int(after), batch_size)

    def _pages(self, after: int, batch_size: int) -> Iterator[tuple[int, Event]]:
        start = f"({after}-0" if after else "-"
        while True:
            rows = self.r.xrange(self.p + "events", min=start, max="+", count=batch_size)
            for entry_id, fields in rows:
                seq = int(entry_id.split(b"-")[0])
                yield seq, _event(fields[b"e"])
            if len(rows) < batch_size:
                return
            start = "(" + rows[-1][0].decode()

    def user_events(self, user_id: str) -> list[Event]:
        ids = self.r.lrange(self.p + "user:" + user_id, 0, -1)
        out = []
        for entry_id in ids:
            rows = self.r.xrange(self.p + "events", min=entry_id, max=entry_id)
            out += [_event(f[b"e"]) for _, f in rows]
        return out

    def delete_user(self, user_id: str) -> int:
        if not user_id:
            raise ValueError("user_id must be non-empty (an empty id would erase anonymous events)")
        key = self.p + "user:" + user_id
        ids = self.r.lrange(key, 0, -1)
        if not ids:
            return 0
        eids = [e.event_id for e in self.user_events(user_id) if e.event_id]
        pipe = self.r.pipeline(transaction=True)
        pipe.xdel(self.p + "events", *ids)
        if eids:  # forget the ids too: nothing of the user remains
            pipe.srem(self.p + "event_ids", *eids)
        pipe.delete(key)
        return int(pipe.execute()[0])

    def last_seq(self) -> int:
        return int(self.r.get(self.p + "seq") or 0)

    def count(self) -> int:
        return int(self.r.xlen(self.p + "events"))

    def close(self) -> None:
        self.r.close()


class RedisItemStore:
    """:class:`~shoprec.store.protocols.ItemStore` in a Redis hash plus an order index."""

    def __init__(self, client: redis.Redis, prefix: str = "shoprec:") -> None:
        self.r: Any = client
        self.p = prefix
        self._upsert = self.r.register_script(_UPSERT)

    def upsert(self, items: Sequence[Item], added_at: float) -> None:
        if not items:
            return
        argv: list[str] = [repr(float(added_at))]
        for it in items:
            argv += [it.item_id, json.dumps({**asdict(it), "category": list(it.category)})]
        keys = [self.p + k for k in ("items", "item_added", "item_order", "item_pos")]
        self._upsert(keys=keys, args=argv)

    def get(self, item_id: str) -> Item | None:
        body = self.r.hget(self.p + "items", item_id)
        return _item(body) if body else None

    def all(self) -> list[tuple[Item, float]]:
        ids = [x.decode() for x in self.r.zrange(self.p + "item_order", 0, -1)]
        if not ids:
            return []
        bodies = self.r.hmget(self.p + "items", ids)
        added = self.r.hmget(self.p + "item_added", ids)
        return [(_item(b), float(a)) for b, a in zip(bodies, added, strict=True) if b]

    def count(self) -> int:
        return int(self.r.hlen(self.p + "items"))

    def close(self) -> None:
        self.r.close()


def _item(body: bytes | str) -> Item:
    d = json.loads(body)
    d["category"] = tuple(d["category"])
    return Item(**d)


class RedisStateStore(Generic[S]):
    """:class:`~shoprec.store.protocols.StateStore` as one Redis string per shopper.

    Parameters
    ----------
    encode, decode : state <-> JSON-able dict.
    ttl_s : expiry of keys whose id starts with ``session:`` (anonymous sessions); None = never.
    """

    def __init__(
        self,
        client: redis.Redis,
        encode: Callable[[S], dict[str, Any]],
        decode: Callable[[dict[str, Any]], S],
        prefix: str = "shoprec:",
        ttl_s: int | None = 7 * 86400,
    ) -> None:
        self.r, self.p, self.enc, self.dec, self.ttl = (
            client,
            prefix + "state:",
            encode,
            decode,
            ttl_s,
        )

    def get(self, user_id: str) -> S | None:
        body = self.r.get(self.p + user_id)
        return self.dec(json.loads(body)) if body else None

    def put(self, user_id: str, state: S) -> None:
        ttl = self.ttl if user_id.startswith("session:") else None
        self.r.set(self.p + user_id, json.dumps(self.enc(state), separators=(",", ":")), ex=ttl)

    def delete(self, user_id: str) -> bool:
        return bool(self.r.delete(self.p + user_id))

    def users(self) -> list[str]:
        n = len(self.p)
        return sorted(k.decode()[n:] for k in self.r.scan_iter(match=self.p + "*", count=1000))

    def __len__(self) -> int:
        return sum(1 for _ in self.r.scan_iter(match=self.p + "*", count=1000))

    def clear(self) -> None:
        keys = list(self.r.scan_iter(match=self.p + "*", count=1000))
        for s in range(0, len(keys), 1000):
            self.r.delete(*keys[s : s + 1000])
