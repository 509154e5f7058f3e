"""Per-shopper state on Redis (:class:`RedisStateStore`): one string per shopper (a codec turns
states into bytes), with an optional TTL (anonymous sessions expire). :meth:`RedisStateStore.fold`
folds the events :class:`~shoprec.store.redis_log.RedisEventLog` left pending for a shopper.
Unreachable Redis: every method raises :class:`~shoprec.store.errors.StoreUnavailable`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import redis

from shoprec.data.keys import is_session_key
from shoprec.data.records import Event
from shoprec.store.redis_health import Breaker, guarded
from shoprec.store.redis_log import events_from_json

S = TypeVar("S")


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
        pending_key : its pending list (:meth:`~shoprec.store.redis_log.RedisEventLog.pending_key`).
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
                    old = self.dec(json.loads(body)) if body else None
                    state = fold(old, events_from_json(bodies))
                    pipe.multi()
                    pipe.set(key, self._body(state), ex=self._ttl(user_id))
                    pipe.ltrim(pending_key, len(bodies), -1)
                    pipe.execute()
                    return len(bodies)
                except redis.WatchError:
                    continue

    @guarded
    def merge(self, into: str, source: str, combine: Callable[[S | None, S], S]) -> bool:
        """Fold the state of ``source`` into that of ``into`` (``combine(into's, source's)``)
        and delete ``source``'s, in one optimistic transaction (WATCH both), retried when
        another replica touched either meanwhile; ``False`` when ``source`` has no state (so
        two replicas merging at once merge once)."""
        a, b = self.p + into, self.p + source
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(a, b)
                    src = pipe.get(b)
                    if not src:
                        pipe.unwatch()
                        return False
                    body = pipe.get(a)
                    old = self.dec(json.loads(body)) if body else None
                    new = combine(old, self.dec(json.loads(src)))
                    pipe.multi()
                    pipe.set(a, self._body(new), ex=self._ttl(into))
                    pipe.delete(b)
                    pipe.execute()
                    return True
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
