"""The engine's stores on Redis, shared by API replicas (``shoprec serve --store redis://...``).

- User state lives in Redis (:class:`~shoprec.store.redis_state.RedisStateStore`): a replica
  folds the events it stored into the shoppers' states before acknowledging them, so the next
  request through any replica sees them. Folding goes through the pending lists (see
  ``store/redis_log.py``), so an event is folded exactly once even when two replicas write for the
  same shopper at once, or when a replica dies between storing and folding.
- Each replica follows the stream itself (:class:`StreamFollower`): every event, whoever stored
  it, feeds its process-local trending counts, clock and review sentiment; and as one consumer
  of the ``profile-updater`` group it folds whatever a dead replica left pending. About once a
  second it also indexes the items another replica or ``shoprec import`` upserted
  (:class:`~shoprec.serving.follow.CatalogFollower`).
- Memory per shopper is bounded: the state keeps the last ``MAX_RECENT`` items (the session's
  items capped the same way here), anonymous sessions expire (``session_ttl_s``), pending lists
  are emptied on every write. :meth:`SharedState.memory` samples ``MEMORY USAGE``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from shoprec.data.keys import state_key
from shoprec.data.records import Event, Item
from shoprec.online.state import MAX_RECENT, SESSION_TTL_S, UserState, absorbed, login_session
from shoprec.serving.erasures import ErasureNews
from shoprec.serving.follow import CatalogFollower
from shoprec.store.errors import StoreUnavailable
from shoprec.store.redis_groups import StreamGroup
from shoprec.store.redis_health import Breaker, connect
from shoprec.store.redis_items import RedisItemStore
from shoprec.store.redis_log import RedisEventLog, event_from_json
from shoprec.store.redis_state import RedisStateStore

if TYPE_CHECKING:
    from shoprec.settings import Settings

log = logging.getLogger(__name__)

#: The consumer group that folds events a replica stored but did not fold (it died first).
PROFILE_GROUP = "profile-updater"
#: ``(state or None, events) -> state`` with the events applied.
Fold = Callable[[UserState | None, list[Event]], UserState]


class Replica(Protocol):
    """What the stream feeds: a replica's engine."""

    def observe(self, events: Sequence[Event]) -> None: ...

    def fold(self, state: UserState | None, events: list[Event]) -> UserState: ...

    def index_items(self, stored: Sequence[tuple[Item, float]]) -> int: ...

    def erased(self, keys: set[str], reviews: set[str]) -> None: ...


def _encode(state: UserState) -> dict[str, Any]:
    d = state.to_dict()
    d["session_items"] = d["session_items"][-MAX_RECENT:]  # a bot's endless session stays bounded
    return d


def _key(event: Event) -> str:
    return state_key(event.user_id, event.session_id)


class SharedState:
    """The Redis stores of one process, sharing one client and one :class:`Breaker`.

    Parameters
    ----------
    url : ``redis://host:port/db``.
    prefix : key prefix (one shop per prefix).
    timeout_s : socket timeouts; also bounds how long a request waits on a dead Redis.
    session_ttl_s : expiry of anonymous sessions' state.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "shoprec:",
        timeout_s: float = 0.5,
        session_ttl_s: int = SESSION_TTL_S,
    ) -> None:
        self.url, self.prefix = url, prefix
        self.client = connect(url, timeout_s)
        self.breaker = Breaker(cooldown_s=min(1.0, max(0.2, timeout_s)))
        self.log = RedisEventLog(self.client, prefix, state_key=_key, breaker=self.breaker)
        self.items = RedisItemStore(self.client, prefix, breaker=self.breaker)
        self.states: RedisStateStore[UserState] = RedisStateStore(
            self.client, _encode, UserState.from_dict, prefix, session_ttl_s, self.breaker
        )
        #: erasures announced to every process (digests only)
        self.erasures = ErasureNews(self.client, prefix)
        self._state_bytes: dict[str, float] = {}
        self._sampled_at = -1e9

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> SharedState:
        return cls(url, settings.redis_prefix, settings.redis_timeout_s)

    # -- writes -----------------------------------------------------------------------------
    def fold(self, stored: Sequence[Event], fold: Fold) -> int:
        """Fold the pending events of every shopper in ``stored`` (events just appended),
        after merging the anonymous sessions their login events name."""
        self.merge_logins(stored, fold)
        n = 0
        for key in dict.fromkeys(_key(e) for e in stored):
            n += self.states.fold(key, self.log.pending_key(key), fold)
        return n

    def merge_logins(self, events: Sequence[Event], fold: Fold) -> int:
        """Fold into its shopper each anonymous session an event naming both a user and a
        session names (the session's own pending events first), deleting the session's state:
        merged once, also when replicas race (:meth:`RedisStateStore.merge`). One round trip
        when there is nothing to merge. Returns the sessions merged."""
        logins = list(dict.fromkeys((_key(e), s) for e in events if (s := login_session(e))))
        if not logins:
            return 0
        with self.breaker.guard():
            pipe = self.client.pipeline(transaction=False)
            for _, anonymous in logins:
                pipe.exists(self.states.p + anonymous)
                pipe.llen(self.log.pending_key(anonymous))
            found = pipe.execute()
        n = 0
        for i, (key, anonymous) in enumerate(logins):
            if not (found[2 * i] or found[2 * i + 1]):
                continue
            self.states.fold(anonymous, self.log.pending_key(anonymous), fold)
            n += self.states.merge(key, anonymous, absorbed)
        return n

    def fold_keys(self, keys: Sequence[str], fold: Fold) -> int:
        """Fold the shoppers among ``keys`` that have pending events (one LLEN round trip)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return 0
        with self.breaker.guard():
            pipe = self.client.pipeline(transaction=False)
            for k in keys:
                pipe.llen(self.log.pending_key(k))
            lengths = pipe.execute()
        return sum(
            self.states.fold(k, self.log.pending_key(k), fold)
            for k, n in zip(keys, lengths, strict=True)
            if n
        )

    def rebuild(self, fold: Fold) -> int:
        """At start-up, before any replica serves: build every state from the log when Redis
        holds none (first start), else fold what a crash left pending. Returns states written."""
        pending = [
            k.decode()[len(self.log.pending_key("")) :]
            for k in self.client.scan_iter(match=self.log.pending_key("*"), count=1000)
        ]
        if len(self.states) or not self.log.count():
            self.fold_keys(pending, fold)
            return 0
        states: dict[str, UserState] = {}
        for _, e in self.log.replay():
            k = _key(e)
            state, anonymous = states.get(k), login_session(e)
            if anonymous is not None and anonymous in states:  # the login merge, redone
                state = absorbed(state, states.pop(anonymous))
            states[k] = fold(state, [e])
        items = list(states.items())
        for s in range(0, len(items), 2000):
            self.states.put_many(items[s : s + 2000])
        for s in range(0, len(pending), 1000):
            self.client.delete(*[self.log.pending_key(k) for k in pending[s : s + 1000]])
        log.info("built %d shopper states in Redis from %d events", len(states), self.log.count())
        return len(states)

    # -- reporting ---------------------------------------------------------------------------
    def memory(self, sample: int = 200) -> dict[str, Any]:
        """Bytes per shopper state (sampled), the stream's bytes per event, key counts."""
        with self.breaker.guard():
            per_state = self.states.memory_usage(sample)
            stream_bytes = int(self.client.memory_usage(self.log.stream, samples=50) or 0)
            n_events = self.log.count()
            info = self.client.info("memory")
        return {
            "state_bytes": per_state,
            "stream_bytes_per_event": stream_bytes / max(1, n_events),
            "events": n_events,
            "used_memory_bytes": int(info["used_memory"]),
        }

    def state_bytes(self, max_age_s: float = 60.0) -> dict[str, float]:
        """Bytes per shopper state over a 200-key sample, re-sampled at most every
        ``max_age_s`` (for /metrics)."""
        now = time.monotonic()
        if now - self._sampled_at > max_age_s:
            sample = self.states.memory_usage(200)
            self._state_bytes = {k: sample[k] for k in ("mean", "p99", "max")}
            self._sampled_at = now
        return self._state_bytes

    def close(self) -> None:
        self.client.close()


class StreamFollower:
    """A replica's background reader of the stream (one daemon thread).

    Feeds every new event to ``replica.observe`` (trending, clock, reviews), and as a consumer
    of :data:`PROFILE_GROUP` folds what other replicas left pending. Survives Redis outages:
    it waits and resumes; a Redis restarted empty restarts it from the beginning.

    Parameters
    ----------
    shared : the replica's Redis stores.
    replica : the replica's engine (over ``shared``).
    after : the last seq the engine already observed (its start-up replay).
    """

    def __init__(
        self, shared: SharedState, replica: Replica, after: int, block_ms: int = 250
    ) -> None:
        self.replica, self.shared, self.position, self.block_ms = replica, shared, after, block_ms
        consumer = f"{socket.gethostname()}:{os.getpid()}"
        self.group = StreamGroup(shared.log, PROFILE_GROUP, consumer, start="$")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-follower", daemon=True)
        self._last_claim = 0.0
        # items another replica or ``shoprec import`` upserted, at most once a second
        self.catalog = CatalogFollower(replica, shared.items)
        self._last_items = 0.0

    def start(self) -> StreamFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def step(self) -> int:
        """Read and apply one batch; returns the number of events observed."""
        r: Any = self.shared.client  # redis-py's reply types are unions of everything
        with self.shared.breaker.guard():
            start = f"{self.position}-0"
            reply = r.xread({self.shared.log.stream: start}, count=1000, block=self.block_ms)
        rows = [row for _, rows in reply or [] for row in rows]
        if rows:
            self.position = int(rows[-1][0].split(b"-")[0])
            self.replica.observe([event_from_json(f[b"e"]) for _, f in rows if f])
        elif self.shared.log.last_seq() < self.position:  # Redis came back empty
            log.warning("stream restarted below seq %d: following it from the start", self.position)
            self.position = 0
        self._update_profiles()
        if time.monotonic() - self._last_items > 1.0:
            self._last_items = time.monotonic()
            self.catalog.step()
            keys, reviews = self.shared.erasures.read()  # another process's erasures
            if keys or reviews:
                self.replica.erased(keys, reviews)
        return len(rows)

    def _update_profiles(self) -> None:
        entries = self.group.read(count=1000)
        now = time.monotonic()
        if now - self._last_claim > 10.0:
            self._last_claim = now
            entries += self.group.claim_stale(min_idle_ms=30_000)
        events = [e.event for e in entries if e.event is not None]
        self.shared.merge_logins(events, self.replica.fold)  # a dead replica's logins too
        self.shared.fold_keys([_key(e) for e in events], self.replica.fold)
        self.group.ack(entries)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except StoreUnavailable:
                self._stop.wait(0.2)
            except Exception:  # keep following: one bad batch must not stop the replica
                log.exception("stream follower step failed")
                self._stop.wait(1.0)
