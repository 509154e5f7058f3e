"""What ``shoprec serve`` tidies in the background, every ``SHOPREC_COMPACT_EVERY_S`` (an hour by
default), in one low-priority daemon thread:

- anonymous sessions expire in the embedded store as their Redis keys do (a week after their
  latest event, :data:`~shoprec.online.state.SESSION_TTL_S`): the expired sessions' states are
  dropped, a chunk of shoppers per writer-lock hold (also once at start, after the replay
  rebuilt them);
- with ``SHOPREC_RETAIN_DAYS`` set, the log is compacted by the rule of ``shoprec compact``
  (``store/retention.py``): the embedded log keeps each signed-in shopper's latest
  :data:`~shoprec.online.state.MAX_RECENT` events, which a restart rebuilds their state from.
  Over Redis every worker and replica runs the thread, and a key taken with ``SET NX EX`` for
  the period picks the one that compacts (the key is the timer: nobody deletes it).

Now is the engine's clock; under the data clock before any event there is no now, and nothing
is done.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import TYPE_CHECKING

from shoprec.data.keys import is_session_key
from shoprec.online.state import MAX_RECENT, SESSION_TTL_S
from shoprec.serving.background import Background
from shoprec.store.errors import StoreUnavailable
from shoprec.store.retention import Compaction

if TYPE_CHECKING:
    from shoprec.serving.engine import Engine
    from shoprec.settings import Settings

log = logging.getLogger(__name__)

#: Shoppers checked for expiry per hold of the writer lock.
SWEEP_CHUNK = 5_000
#: Sleep between compaction batches: the serving process's requests go first.
PAUSE_S = 0.02


class Housekeeping(Background):
    """Parameters
    ----------
    engine : the serving engine (its stores, states, clock and writer lock).
    retain_s : the retention window in seconds (None: no compaction).
    every_s : seconds between rounds.
    session_ttl_s : an anonymous session's state expires this long after its latest event.
    """

    def __init__(
        self,
        engine: Engine,
        retain_s: float | None,
        every_s: float,
        session_ttl_s: float = SESSION_TTL_S,
    ) -> None:
        self.engine, self.retain_s, self.every_s = engine, retain_s, every_s
        self.session_ttl_s = session_ttl_s
        super().__init__("housekeeping")

    def step(self) -> tuple[int, Compaction | None]:
        """One round: ``(sessions expired, the compaction or None)``."""
        now = self.engine.clock
        if now <= 0:
            return 0, None
        expired = 0 if self.engine.shared is not None else self.expire_sessions(now)
        if self.retain_s is None:
            return expired, None
        return expired, self.compact(now - self.retain_s)

    def expire_sessions(self, now: float) -> int:
        """Drop the embedded states of anonymous sessions idle for over the TTL at ``now``."""
        states, lock = self.engine.states, self.engine.writer.lock
        keys = [k for k in states.users() if is_session_key(k)]
        n = 0
        for s in range(0, len(keys), SWEEP_CHUNK):
            with lock:  # not between a fold's read and write of the same session
                for key in keys[s : s + SWEEP_CHUNK]:
                    state = states.get(key)
                    if state is not None and state.expired(now, self.session_ttl_s):
                        n += states.delete(key)
        if n:
            log.info("%d anonymous sessions expired", n)
        return n

    def compact(self, cutoff: float) -> Compaction | None:
        """Compact the log at ``cutoff``; over Redis only if this process holds the period's
        key (None otherwise)."""
        from shoprec.store import SQLiteEventLog

        events = self.engine.events
        if isinstance(events, SQLiteEventLog):
            from shoprec.store.retention import compact_sqlite

            return compact_sqlite(events, cutoff, MAX_RECENT, pause_s=PAUSE_S)
        shared = self.engine.shared
        assert shared is not None, "the embedded log is SQLite's"
        key = shared.prefix + "compaction:lock"
        owner = f"{os.getpid()}:{secrets.token_hex(4)}"
        with shared.breaker.guard():
            if not shared.client.set(key, owner, nx=True, ex=max(1, int(self.every_s))):
                return None  # another worker or replica compacts this period
        from shoprec.store.redis_retention import compact_redis

        return compact_redis(shared.log, cutoff, pause_s=PAUSE_S)

    def _run(self) -> None:
        now = self.engine.clock
        if self.engine.shared is None and now > 0:  # the start-up replay rebuilt expired ones
            try:
                self.expire_sessions(now)
            except Exception:
                log.exception("expiring sessions after the start-up replay failed")
        while not self._stop.wait(self.every_s):
            try:
                self.step()
            except StoreUnavailable:
                log.warning("housekeeping skipped a round: the store is unavailable")
            except Exception:  # keep serving; the next round tries again
                log.exception("housekeeping round failed")


def start_housekeeping(engine: Engine, settings: Settings) -> Housekeeping:
    """The started thread, as ``SHOPREC_RETAIN_DAYS`` and ``SHOPREC_COMPACT_EVERY_S`` say."""
    retain = settings.retain_days * 86_400.0 if settings.retain_days is not None else None
    return Housekeeping(engine, retain, settings.compact_every_s).start()
