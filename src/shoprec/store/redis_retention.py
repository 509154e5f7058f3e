"""Retention on the Redis log: the stream, its dedupe ids and the per-shopper id lists trimmed by
the rule of ``retention.py`` (walk from the oldest entry in append order, drop what is before
the cutoff, stop at the first entry at or after it).

The cut is by event time, read from each entry's body: the entry ids are ``<seq>-0`` (the
append script numbers them from ``INCR``), so they carry no time, and the append time is stored
nowhere. What the walk drops is a prefix of the stream, so one ``XTRIM MINID`` removes it. A
full walk (``shoprec compact --full``, once, when a window is set on a stream filled without
one) also deletes the expired entries found after the first entry inside the window, one by one.

The dedupe ids: the seen-id set ``event_ids`` loses the ids of the entries trimmed, read from
the same bodies (``SREM``), so the cost is what is dropped, never the size of the set. A resent
event whose id was forgotten this way is older than the window, which the engine refuses
before it reaches the append script (``SHOPREC_RETAIN_DAYS``): no duplicate gets in. The
append script needs nothing from this module: it appends above the cut only (new seqs), and
each batch here is one Lua script, atomic against appends and erasures.

No per-shopper keep: over Redis the shoppers' states live in Redis and are never rebuilt from
the stream once built, so a trimmed stream loses nothing they learned.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from shoprec.store.redis_health import guarded
from shoprec.store.redis_log import RedisEventLog
from shoprec.store.retention import BATCH, Compaction, Progress

log = logging.getLogger(__name__)

# KEYS: stream, seen ids; ARGV: the first seq kept, the user list prefix, how many event ids,
# the event ids, then the users whose lists may hold trimmed entry ids (at their heads: the
# lists are in append order). Returns the entries trimmed.
_TRIM = """
local cut = tonumber(ARGV[1])
local k = tonumber(ARGV[3])
for i = 4, 3 + k, 500 do
  redis.call('SREM', KEYS[2], unpack(ARGV, i, math.min(i + 499, 3 + k)))
end
for i = 4 + k, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head or tonumber(string.match(head, '^%d+')) >= cut then break end
    redis.call('LPOP', key)
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', cut .. '-0')
"""

# KEYS: stream, seen ids; ARGV: the user list prefix, then per entry: its id, its user, its
# event id or "". Deletes each entry still there with its list entry and seen id.
_DELETE = """
local n = 0
for i = 2, #ARGV, 3 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    n = n + 1
    redis.call('LREM', ARGV[1] .. ARGV[i + 1], 1, ARGV[i])
    if ARGV[i + 2] ~= '' then redis.call('SREM', KEYS[2], ARGV[i + 2]) end
  end
end
return n
"""


def compact_redis(
    events: RedisEventLog,
    cutoff: float,
    full: bool = False,
    progress: Progress | None = None,
    pause_s: float = 0.0,
    batch: int = BATCH,
) -> Compaction:
    """Trim the entries before ``cutoff`` (event time, unix seconds) from the Redis log (module
    doc). ``full``: read the whole stream rather than stop at the first entry inside the
    window, and delete the expired entries found further on one by one (``XDEL``, with their
    ids and list entries). ``progress`` is called after every batch, ``pause_s`` slept between
    batches."""
    r: Any = events.r
    trim, delete = r.register_script(_TRIM), r.register_script(_DELETE)
    keys = [events.stream, events.p + "event_ids"]
    done = Compaction(cutoff, space="freed")
    start = "-"
    while True:
        with events.breaker.guard():
            rows = r.xrange(events.stream, min=start, max="+", count=batch)
        ids: list[str] = []
        users: set[str] = set()
        scattered: list[str] = []  # (entry id, user, event id) of expired entries further on
        last = 0
        for entry_id, fields in rows:
            body = json.loads(fields[b"e"])
            seq = int(entry_id.split(b"-")[0])
            done.scanned += 1
            expired = float(body["timestamp"]) < cutoff
            if not done.stopped_at and expired:  # the head: trimmed at once
                last = seq
                users.add(body["user_id"])
                if body.get("event_id"):
                    ids.append(body["event_id"])
            elif not done.stopped_at:  # the first entry inside the window
                done.stopped_at = seq
                if not full:
                    break
            elif expired:
                scattered += [entry_id.decode(), body["user_id"], body.get("event_id") or ""]
        with events.breaker.guard():
            if last:
                argv = [str(last + 1), events.p + "user:", str(len(ids)), *ids, *users]
                done.dropped += int(trim(keys=keys, args=argv))
            if scattered:
                done.dropped += int(delete(keys=keys, args=[events.p + "user:", *scattered]))
        if progress is not None:
            progress(done)
        if (done.stopped_at and not full) or len(rows) < batch:
            break
        start = "(" + rows[-1][0].decode()
        if pause_s:
            time.sleep(pause_s)
    level = logging.INFO if done.dropped else logging.DEBUG  # an hourly round with nothing
    log.log(level, "compacted the Redis stream %s: %d entries trimmed", events.stream, done.dropped)
    return done


@guarded
def latest_time(events: RedisEventLog, tail: int = 1000) -> float:
    """The latest event time among the newest ``tail`` entries (0 when empty): now under the
    data clock."""
    rows = events.r.xrevrange(events.stream, max="+", min="-", count=tail)
    return max((float(json.loads(f[b"e"])["timestamp"]) for _, f in rows), default=0.0)
