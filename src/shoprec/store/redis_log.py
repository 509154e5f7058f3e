"""The event log on Redis (:class:`RedisEventLog`), for API replicas that share state.

A Redis Stream whose entry ids are ``<seq>-0`` (seq from ``INCR``), so ``replay(after)`` is one
``XRANGE``; a set of seen ``event_id`` values makes appends idempotent; both happen in one Lua
script, atomically across replicas. A per-user list of entry ids makes erasure
``O(user's events)``.

Exactly once over retries: the client retries a call that timed out (``redis_health.connect``),
and a timed-out call may still run once Redis answers again (a stall, a restart replaying its
AOF). Every append call carries an id chosen before its first attempt; the script records each
event's result under it (``append:<id>``, a byte per event, kept :data:`CALL_TTL_S`), so a
second run of the same call stores nothing again, events without an ``event_id`` included; and
an event's seen mark is its last write, so a script that fails half-way never leaves an id seen
but not stored.

Durability is Redis's: with AOF (``appendfsync everysec`` or ``always``) an acknowledged event
survives a Redis restart; the development Redis of this project runs without persistence. A
production Redis needs ``appendonly yes`` and ``appendfsync always`` for "acknowledged = durable"
to hold across a Redis crash (``everysec`` may lose the last second).

Shared user state: when the log is given a ``state_key``, each appended event is also pushed, in
the same script, onto ``pending:<state key>``;
:meth:`~shoprec.store.redis_state.RedisStateStore.fold` folds a shopper's pending events into
their state and trims the list in one optimistic transaction. An event is thus either pending or
folded, never both and never neither, whichever replica (or the profile updater, after a crash)
does the folding.

Unreachable Redis: every method raises :class:`~shoprec.store.errors.StoreUnavailable` (through
the shared :class:`~shoprec.store.redis_health.Breaker`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import redis

from shoprec.data import event_types
from shoprec.data.keys import session_key
from shoprec.data.records import Event
from shoprec.store.redis_health import Breaker, guarded

# KEYS: seq counter, stream, seen ids, this call's record; ARGV: user key prefix, the record's
# lifetime (s), then per event (event_id or "", user_id, json, pending list key or "").
# Returns 1/0 per event. Each event's writes come in one step, the seen mark last (a failing
# write never leaves an id marked but unstored), then its result is appended to the call's
# record (one character per event): a second run of the call (a timed-out attempt that did
# run, then the client's retry) returns the recorded results and appends nothing again, events
# without an event_id included.
_APPEND = """
local out = {}
local n = (#ARGV - 2) / 4
local done = redis.call('GET', KEYS[4]) or ''
for i = 0, n - 1 do
  local fresh = 1
  if i < #done then
    fresh = tonumber(string.sub(done, i + 1, i + 1))
  else
    local b = 3 + 4 * i
    local eid, user, body, pending = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
    if eid ~= '' and redis.call('SISMEMBER', KEYS[3], eid) == 1 then fresh = 0 end
    if fresh == 1 then
      local seq = redis.call('INCR', KEYS[1])
      local id = seq .. '-0'
      redis.call('XADD', KEYS[2], id, 'e', body)
      redis.call('RPUSH', ARGV[1] .. user, id)
      if pending ~= '' then redis.call('RPUSH', pending, body) end
      if eid ~= '' then redis.call('SADD', KEYS[3], eid) end
    end
    redis.call('APPEND', KEYS[4], tostring(fresh))
    redis.call('EXPIRE', KEYS[4], ARGV[2])
  end
  out[#out + 1] = fresh
end
return out
"""

#: How long a call's record outlives its first run: a retry runs right after it (both wait
#: behind the same stall), so minutes are ample; a record costs about a byte per event.
CALL_TTL_S = 300


def _event_json(e: Event) -> str:
    d = asdict(e)
    d["type"] = str(event_types.parse(e.type))
    return json.dumps(d, separators=(",", ":"))


def event_from_json(body: bytes | str) -> Event:
    """An event as the log stores it (the stream entry's ``e`` field, a pending list's item)."""
    d = json.loads(body)
    d["type"] = event_types.stored(d["type"])
    return Event(**d)


def events_from_json(bodies: Sequence[bytes | str]) -> list[Event]:
    return [event_from_json(b) for b in bodies]


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
        argv: list[str] = [self.p + "user:", str(CALL_TTL_S)]
        for e in events:
            pending = self.pending_key(self.state_key(e)) if self.state_key else ""
            argv += [e.event_id or "", e.user_id, _event_json(e), pending]
        # the call's id, chosen before the first attempt: the client's retry of a timed-out
        # call carries it, so the events are stored once (module doc)
        call = self.p + "append:" + secrets.token_hex(12)
        keys = [self.p + "seq", self.p + "events", self.p + "event_ids", call]
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
                yield seq, event_from_json(fields[b"e"])
            if len(rows) < batch_size:
                return
            start = "(" + rows[-1][0].decode()

    @guarded
    def user_events(self, user_id: str) -> list[Event]:
        ids = self.r.lrange(self.p + "user:" + user_id, 0, -1)
        out = []
        for entry_id in ids:
            rows = self.r.xrange(self.p + "events", min=entry_id, max=entry_id)
            out += [event_from_json(f[b"e"]) for _, f in rows]
        return out

    @guarded
    def delete_user(self, user_id: str) -> int:
        """Erase every event of ``user_id`` in one optimistic transaction: the user's list and
        pending list are watched, so an append by another replica between the read and the
        erasure (an entry the list would have lost track of) makes it start again."""
        if not user_id:
            raise ValueError("user_id must be non-empty (an empty id would erase anonymous events)")
        key, pending, stream = self.p + "user:" + user_id, self.pending_key(user_id), self.stream
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key, pending)
                    ids = pipe.lrange(key, 0, -1)
                    eids = []
                    for s in range(0, len(ids), 1000):  # the entries, for their event ids
                        read = self.r.pipeline(transaction=False)
                        for entry_id in ids[s : s + 1000]:
                            read.xrange(stream, min=entry_id, max=entry_id)
                        for rows in read.execute():
                            eids += [event_from_json(f[b"e"]).event_id for _, f in rows]
                    pipe.multi()
                    if ids:
                        pipe.xdel(stream, *ids)
                    if eids := [e for e in eids if e]:  # nothing of the user remains
                        pipe.srem(self.p + "event_ids", *eids)
                    pipe.delete(key, pending)  # events not yet folded are erased too
                    done = pipe.execute()
                    return int(done[0]) if ids else 0
                except redis.WatchError:  # appended meanwhile: read again
                    continue

    @guarded
    def delete_session(self, session_id: str) -> int:
        """Erase the anonymous events of session ``session_id``: read through the anonymous
        events' index (erasures are rare; an index per session would cost every append)."""
        if not session_id:
            raise ValueError("session_id must be non-empty")
        key, stream = self.p + "user:", self.p + "events"
        self.r.delete(self.pending_key(session_key(session_id)))
        ids, found, eids = self.r.lrange(key, 0, -1), [], []
        for s in range(0, len(ids), 1000):
            pipe = self.r.pipeline(transaction=False)
            for entry_id in ids[s : s + 1000]:
                pipe.xrange(stream, min=entry_id, max=entry_id)
            for entry_id, rows in zip(ids[s : s + 1000], pipe.execute(), strict=True):
                for _, fields in rows:
                    e = event_from_json(fields[b"e"])
                    if e.session_id == session_id:
                        found.append(entry_id)
                        eids += [e.event_id] if e.event_id else []
        if not found:
            return 0
        pipe = self.r.pipeline(transaction=True)
        pipe.xdel(stream, *found)
        if eids:
            pipe.srem(self.p + "event_ids", *eids)
        for entry_id in found:
            pipe.lrem(key, 1, entry_id)
        return int(pipe.execute()[0])

    @guarded
    def last_seq(self) -> int:
        return int(self.r.get(self.p + "seq") or 0)

    @guarded
    def count(self) -> int:
        return int(self.r.xlen(self.p + "events"))

    def close(self) -> None:
        self.r.close()
