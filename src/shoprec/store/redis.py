"""Redis implementations of the store protocols, for API replicas that share state.

- :class:`RedisEventLog`: a Redis Stream whose entry ids are ``<seq>-0`` (seq from ``INCR``),
  so ``replay(after)`` is one ``XRANGE``; a set of seen ``event_id`` values makes appends
  idempotent; both happen in one Lua script, atomically across replicas. A per-user list of
  entry ids makes erasure ``O(user's events)``.
- :class:`RedisItemStore`: item JSON in a hash, first-insertion order in a sorted set.
- :class:`RedisStateStore`: one string per shopper (a codec turns states into bytes), with an
  optional TTL (anonymous sessions expire).

Durability is Redis's: with AOF (``appendfsync everysec`` or ``always``) an acknowledged event
survives a Redis restart; the development Redis of this project runs without persistence. A
production Redis needs ``appendonly yes`` and ``appendfsync always`` for "acknowledged = durable"
to hold across a Redis crash (``everysec`` may lose the last second).

Shared user state: when the log is given a ``state_key``, each appended event is also pushed, in
the same script, onto ``pending:<state key>``; :meth:`RedisStateStore.fold` folds a shopper's
pending events into their state and trims the list in one optimistic transaction. An event is
thus either pending or folded, never both and never neither, whichever replica (or the profile
updater, after a crash) does the folding.

Unreachable Redis: every store method raises :class:`StoreUnavailable` (through a shared
:class:`Breaker` that, once tripped, fails fast for ``cooldown_s`` instead of reconnecting on
every call).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Generic, TypeVar

import redis

from shoprec.data.keys import is_session_key
from shoprec.data.records import Event, EventType, Item
from shoprec.store.redis_health import Breaker, StoreUnavailable, connect, guarded

__all__ = [
    "Breaker",
    "RedisEventLog",
    "RedisItemStore",
    "RedisStateStore",
    "StoreUnavailable",
    "connect",
]

S = TypeVar("S")


# KEYS: seq counter, stream, seen ids; ARGV: user key prefix, then per event (event_id or "",
# user_id, json, pending list key or ""). Returns 1/0 per event.
_APPEND = """
local out = {}
local n = (#ARGV - 1) / 4
for i = 0, n - 1 do
  local b = 2 + 4 * i
  local eid, user, body, pending = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local fresh = 1
  if eid ~= '' then fresh = redis.call('SADD', KEYS[3], eid) end
  if fresh == 1 then
    local seq = redis.call('INCR', KEYS[1])
    local id = seq .. '-0'
    redis.call('XADD', KEYS[2], id, 'e', body)
    redis.call('RPUSH', ARGV[1] .. user, id)
    if pending ~= '' then redis.call('RPUSH', pending, body) end
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
    state_key : event -> the key of the state it changes; when given, stored events are also
        pushed onto that key's pending list (see the module doc). None: no pending lists.
    breaker : shared with the other stores of the process (a new one if None).
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "shoprec:",
        state_key: Callable[[Event], str] | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.r: Any = client  # redis-py's return types are unions of everything: opt out
        self.p = prefix
        self.state_key = state_key
        self.breaker = breaker or Breaker()
        self._append = self.r.register_script(_APPEND)

    @classmethod
    def from_url(cls, url: str, prefix: str = "shoprec:") -> RedisEventLog:
        return cls(redis.Redis.from_url(url), prefix)

    @property
    def stream(self) -> str:
        """The key of the Redis Stream (for consumer groups)."""
        return self.p + "events"

    def pending_key(self, state_key: str) -> str:
        """The list of events appended for ``state_key`` and not yet folded into its state."""
        return self.p + "pending:" + state_key

    @guarded
    def append(self, events: Sequence[Event]) -> list[bool]:
        if not events:
            return []
        argv: list[str] = [self.p + "user:"]
        for e in events:
            pending = self.pending_key(self.state_key(e)) if self.state_key else ""
            argv += [e.event_id or "", e.user_id, _event_json(e), pending]
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

    @guarded
    def user_events(self, user_id: str) -> list[Event]:
        ids = self.r.lrange(self.p + "user:" + user_id, 0, -1)
        out = []
        for entry_id in ids:
            rows = self.r.xrange(self.p + "events", min=entry_id, max=entry_id)
            out += [_event(f[b"e"]) for _, f in rows]
        return out

    @guarded
    def delete_user(self, user_id: str) -> int:
        if not user_id:
            raise ValueError("user_id must be non-empty (an empty id would erase anonymous events)")
        key = self.p + "user:" + user_id
        self.r.delete(self.pending_key(user_id))  # events not yet folded are erased too
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

    @guarded
    def last_seq(self) -> int:
        return int(self.r.get(self.p + "seq") or 0)

    @guarded
    def count(self) -> int:
        return int(self.r.xlen(self.p + "events"))

    def close(self) -> None:
        self.r.close()


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
        keys = [self.p + k for k in ("items", "item_added", "item_order", "item_pos")]
        self._upsert(keys=keys, args=argv)

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
    breaker : shared with the other stores of the process (a new one if None).
    """

    def __init__(
        self,
        client: redis.Redis,
        encode: Callable[[S], dict[str, Any]],
        decode: Callable[[dict[str, Any]], S],
        prefix: str = "shoprec:",
        ttl_s: int | None = 7 * 86400,
        breaker: Breaker | None = None,
    ) -> None:
        self.r, self.p, self.enc, self.dec, self.ttl = (
            client,
            prefix + "state:",
            encode,
            decode,
            ttl_s,
        )
        self.breaker = breaker or Breaker()

    def _ttl(self, user_id: str) -> int | None:
        return self.ttl if is_session_key(user_id) else None

    def _body(self, state: S) -> str:
        return json.dumps(self.enc(state), separators=(",", ":"))

    @guarded
    def get(self, user_id: str) -> S | None:
        body = self.r.get(self.p + user_id)
        return self.dec(json.loads(body)) if body else None

    @guarded
    def put(self, user_id: str, state: S) -> None:
        self.r.set(self.p + user_id, self._body(state), ex=self._ttl(user_id))

    @guarded
    def put_many(self, states: Sequence[tuple[str, S]]) -> None:
        """Set many states in one round trip (bulk rebuilds)."""
        pipe = self.r.pipeline(transaction=False)
        for user_id, state in states:
            pipe.set(self.p + user_id, self._body(state), ex=self._ttl(user_id))
        pipe.execute()

    @guarded
    def delete(self, user_id: str) -> bool:
        return bool(self.r.delete(self.p + user_id))

    @guarded
    def update(
        self, key: str, fn: Callable[[S | None], tuple[S | None, Mapping[str, S]]]
    ) -> tuple[S | None, S | None]:
        """``fn(old)`` -> ``(new, puts)`` in one optimistic transaction (WATCH the key, read,
        MULTI, write), retried when another replica changed the key meanwhile."""
        k = self.p + key
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(k)
                    body = pipe.get(k)
                    old = self.dec(json.loads(body)) if body else None
                    new, puts = fn(old)
                    pipe.multi()
                    if new is None:
                        pipe.delete(k)
                    else:
                        pipe.set(k, self._body(new), ex=self._ttl(key))
                    for other, state in puts.items():
                        pipe.set(self.p + other, self._body(state), ex=self._ttl(other))
                    pipe.execute()
                    return old, new
                except redis.WatchError:
                    continue

    @guarded
    def fold(
        self, user_id: str, pending_key: str, fold: Callable[[S | None, list[Event]], S]
    ) -> int:
        """Fold the events waiting on ``pending_key`` into the state of ``user_id``.

        One optimistic transaction (WATCH state and list, read both, ``fold``, then SET the state
        and trim what was folded); retried when another replica touched either key meanwhile.

        Parameters
        ----------
        user_id : the state key.
        pending_key : its pending list (:meth:`RedisEventLog.pending_key`).
        fold : ``(state or None, events oldest first) -> new state``; may be called more than
            once (on retries), so it must not mutate anything but the state it is given.

        Returns
        -------
        int
            How many events were folded (0 when none were pending).
        """
        key = self.p + user_id
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key, pending_key)
                    bodies = pipe.lrange(pending_key, 0, -1)
                    if not bodies:
                        pipe.unwatch()
                        return 0
                    body = pipe.get(key)
                    state = fold(self.dec(json.loads(body)) if body else None, _events(bodies))
                    pipe.multi()
                    pipe.set(key, self._body(state), ex=self._ttl(user_id))
                    pipe.ltrim(pending_key, len(bodies), -1)
                    pipe.execute()
                    return len(bodies)
                except redis.WatchError:
                    continue

    @guarded
    def memory_usage(self, sample: int = 200) -> dict[str, float]:
        """Bytes per state key (Redis ``MEMORY USAGE``) over up to ``sample`` keys.

        Returns
        -------
        dict[str, float]
            ``keys_sampled``, ``mean``, ``p50``, ``p99`` and ``max`` bytes.
        """
        keys = []
        for k in self.r.scan_iter(match=self.p + "*", count=1000):
            keys.append(k)
            if len(keys) >= sample:
                break
        pipe = self.r.pipeline(transaction=False)
        for k in keys:
            pipe.memory_usage(k, samples=0)
        sizes = sorted(int(b or 0) for b in pipe.execute())
        if not sizes:
            return {"keys_sampled": 0, "mean": 0.0, "p50": 0.0, "p99": 0.0, "max": 0.0}

        def q(f: float) -> float:
            return float(sizes[min(len(sizes) - 1, int(f * len(sizes)))])

        return {
            "keys_sampled": len(sizes),
            "mean": sum(sizes) / len(sizes),
            "p50": q(0.5),
            "p99": q(0.99),
            "max": float(sizes[-1]),
        }

    @guarded
    def users(self) -> list[str]:
        n = len(self.p)
        return sorted(k.decode()[n:] for k in self.r.scan_iter(match=self.p + "*", count=1000))

    @guarded
    def __len__(self) -> int:
        return sum(1 for _ in self.r.scan_iter(match=self.p + "*", count=1000))

    @guarded
    def clear(self) -> None:
        keys = list(self.r.scan_iter(match=self.p + "*", count=1000))
        for s in range(0, len(keys), 1000):
            self.r.delete(*keys[s : s + 1000])


def _events(bodies: Sequence[bytes | str]) -> list[Event]:
    return [_event(b) for b in bodies]
