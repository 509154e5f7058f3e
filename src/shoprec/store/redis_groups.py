"""Consumer groups on the event stream of :class:`~shoprec.store.redis_log.RedisEventLog`.

A group (``profile-updater``, ``training-export``) gets every entry once across its consumers;
an entry stays pending until acknowledged, so a consumer that dies mid-batch loses nothing: its
entries are claimed by another after ``min_idle_ms``. Delivery is at-least-once, so consumers
must be idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis

from shoprec.data.records import Event
from shoprec.store.redis_health import Breaker, guarded
from shoprec.store.redis_log import RedisEventLog, event_from_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One delivered stream entry: its id, seq and event (None if erased since)."""

    id: bytes
    seq: int
    event: Event | None


class StreamGroup:
    """One consumer of one consumer group on the event stream.

    Parameters
    ----------
    log : the Redis event log whose stream is read.
    group : the group name.
    consumer : this consumer's name, unique within the group (e.g. ``host:pid``).
    start : where a newly created group starts: ``"0"`` every entry, ``"$"`` only new ones.
    """

    def __init__(self, log: RedisEventLog, group: str, consumer: str, start: str = "$") -> None:
        self.r: Any = log.r
        self.stream, self.group, self.consumer, self.start = log.stream, group, consumer, start
        self.breaker: Breaker = log.breaker
        self._ready = False

    def ensure(self) -> None:
        """Create the group (and the stream) unless it exists."""
        try:
            self.r.xgroup_create(self.stream, self.group, id=self.start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._ready = True

    @guarded
    def read(
        self, count: int = 500, block_ms: int | None = None, mine: bool = False
    ) -> list[Entry]:
        """Up to ``count`` entries never delivered to this group (waits up to ``block_ms``);
        ``mine``: instead, the entries delivered to this consumer and not yet acknowledged."""
        if not self._ready:
            self.ensure()
        try:
            reply = self.r.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: "0" if mine else ">"},
                count=count,
                block=None if mine else block_ms,
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):  # Redis restarted empty: create it again
                raise
            self.ensure()
            return []
        return [_entry(i, f) for _, rows in reply or [] for i, f in rows]

    @guarded
    def claim_stale(self, min_idle_ms: int = 30_000, count: int = 500) -> list[Entry]:
        """Take over entries another consumer was given but did not acknowledge in time."""
        if not self._ready:
            self.ensure()
        reply = self.r.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_ms, "0-0", count=count
        )
        return [_entry(i, f) for i, f in reply[1]]

    @guarded
    def ack(self, entries: list[Entry]) -> int:
        """Acknowledge ``entries``; returns how many were pending."""
        if not entries:
            return 0
        return int(self.r.xack(self.stream, self.group, *[e.id for e in entries]))

    @guarded
    def lag(self) -> int:
        """Entries not yet delivered to the group (``XINFO GROUPS`` lag; -1 if unknown)."""
        for g in self.r.xinfo_groups(self.stream):
            if g["name"].decode() == self.group:
                lag = g.get("lag")
                return int(lag) if lag is not None else -1
        return -1


def _entry(entry_id: bytes, fields: dict[bytes, bytes] | None) -> Entry:
    seq = int(entry_id.split(b"-")[0])
    return Entry(entry_id, seq, event_from_json(fields[b"e"]) if fields else None)
