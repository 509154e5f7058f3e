"""Per-shopper online state, updated on every event: recent items, the current session,
bought items and time-decayed interest tags (category, brand, price band).

State keys are external ids (SKUs), so that state survives artifact reloads that renumber
items. Shoppers are keyed by :func:`shoprec.data.keys.state_key` (anonymous sessions as
``session:<id>``). When an anonymous shopper signs in (an event naming both the user and the
session), the session's state is folded into the user's (:meth:`UserState.absorb`) and removed:
the login merge, done by whoever folds events (``serving/backend.py``, ``serving/shared.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shoprec.data.event_types import ITEM_ROLES, role, weight
from shoprec.data.keys import session_key
from shoprec.data.records import Event, EventType

#: Interest tags lose half their weight in this many seconds (by event time).
TAG_HALF_LIFE_S = 14 * 86400.0
#: Items of a shopper's history a recommendation request carries (the sequence model reads these).
HISTORY = 50
#: Most recent item events kept per user (more than :data:`HISTORY`: profiles and tags read them).
MAX_RECENT = 200
#: A new session starts after this much inactivity when the caller sends no session_id.
SESSION_GAP_S = 30 * 60.0
#: Most recent search queries kept per shopper.
MAX_QUERIES = 10
#: An anonymous session's state is dropped after this long without an event (Redis: the key's
#: TTL; the embedded store: :meth:`UserState.expired`, swept by the serving process).
SESSION_TTL_S = 7 * 86400


@dataclass(slots=True)
class UserState:
    """What we know about one shopper now.

    Attributes
    ----------
    recent : ``(item_id, timestamp, type)`` of the latest item events, oldest first.
    bought : item ids purchased (never recommended again).
    session_id, session_items : the current session and its latest :data:`MAX_RECENT`
        items, oldest first.
    tags : ``label -> (weight, as_of)``; the weight decays with :data:`TAG_HALF_LIFE_S`.
    last_ts : time of the latest event; ``n_events`` how many were applied.
    queries : the latest search queries, oldest first.
    """

    recent: list[tuple[str, float, str]] = field(default_factory=list)
    bought: set[str] = field(default_factory=set)
    session_id: str | None = None
    session_items: list[str] = field(default_factory=list)
    tags: dict[str, tuple[float, float]] = field(default_factory=dict)
    last_ts: float = 0.0
    n_events: int = 0
    queries: list[str] = field(default_factory=list)

    def apply(self, event: Event, item_tags: list[str] | None = None) -> None:
        """Fold one event in; ``item_tags`` are the event item's tag labels (if known)."""
        ts = event.timestamp
        self.n_events += 1
        new_session = (
            event.session_id != self.session_id
            if event.session_id
            else (ts - self.last_ts > SESSION_GAP_S)
        )
        if new_session:
            self.session_id = event.session_id
            self.session_items = []
        self.last_ts = max(self.last_ts, ts)
        if event.type is EventType.SEARCH and event.query:
            self.queries = [*self.queries[-(MAX_QUERIES - 1) :], event.query]
        kind = role(event.type)  # the built-ins' and the shop's declared types alike
        if not event.item_id:
            return
        if kind == "negative":  # "not this": less interest, never a recent item
            self._add_tags(item_tags, -weight(event.type), ts)
            return
        if kind not in ITEM_ROLES:
            return
        self.recent.append((event.item_id, ts, str(event.type)))
        if len(self.recent) > MAX_RECENT:
            del self.recent[: len(self.recent) - MAX_RECENT]
        self.session_items.append(event.item_id)
        if len(self.session_items) > MAX_RECENT:  # a bot's endless session stays bounded
            del self.session_items[: len(self.session_items) - MAX_RECENT]
        if kind == "purchase":
            self.bought.add(event.item_id)
        w = weight(event.type)
        if event.type is EventType.REVIEW and event.rating is not None and event.rating <= 2:
            w = -1.0  # a bad review is not an interest
        self._add_tags(item_tags, w, ts)

    def _add_tags(self, item_tags: list[str] | None, w: float, ts: float) -> None:
        for label in item_tags or ():
            old, as_of = self.tags.get(label, (0.0, ts))
            self.tags[label] = (_decay(old, as_of, ts) + w, max(as_of, ts))

    def absorb(self, other: UserState) -> None:
        """Fold an anonymous session's state into this shopper's (the login merge).

        Recent items interleave by time (the latest :data:`MAX_RECENT` kept), bought items
        unite, interest tags add up (each decayed to the later of the two times), event counts
        add up. The session's items become this shopper's current session when the session is
        the later activity (or already is the current one), so the feed right after login
        continues what the shopper browsed anonymously.
        """
        self.recent = sorted([*self.recent, *other.recent], key=lambda r: r[1])[-MAX_RECENT:]
        self.bought |= other.bought
        for label, (w, t) in other.tags.items():
            old, as_of = self.tags.get(label, (0.0, t))
            at = max(as_of, t)
            self.tags[label] = (_decay(old, as_of, at) + _decay(w, t, at), at)
        later = other.last_ts >= self.last_ts
        if other.session_id is not None and other.session_id == self.session_id:
            self.session_items = [*self.session_items, *other.session_items][-MAX_RECENT:]
        elif later:
            self.session_id, self.session_items = other.session_id, list(other.session_items)
        both = [*self.queries, *other.queries] if later else [*other.queries, *self.queries]
        self.queries = both[-MAX_QUERIES:]
        self.last_ts = max(self.last_ts, other.last_ts)
        self.n_events += other.n_events

    def expired(self, now: float, ttl_s: float = SESSION_TTL_S) -> bool:
        """Whether an anonymous session with this state has expired at ``now`` (its latest
        event more than ``ttl_s`` before it), as its Redis key would have."""
        return now - self.last_ts > ttl_s

    def recent_items(self, n: int = HISTORY) -> list[str]:
        """The latest ``n`` item ids, oldest first (repeats kept: they are behaviour)."""
        return [r[0] for r in self.recent[-n:]]

    def interests(
        self, now: float | None = None, top: int | None = None
    ) -> list[tuple[str, float]]:
        """Tag labels with weights decayed to ``now`` (default: the latest event), normalised
        to sum 1 over positive weights, strongest first."""
        weights = list(self.interest_weights(now).items())
        weights.sort(key=lambda x: (-x[1], x[0]))
        return weights[:top]

    def interest_weights(self, now: float | None = None) -> dict[str, float]:
        """:meth:`interests` as a dict, unsorted (what a feed request reads)."""
        now = self.last_ts if now is None else now
        weights = [(lab, _decay(w, t, now)) for lab, (w, t) in self.tags.items()]
        weights = [(lab, w) for lab, w in weights if w > 0]
        total = sum(w for _, w in weights) or 1.0
        return {lab: w / total for lab, w in weights}

    def to_dict(self) -> dict:
        """JSON-able snapshot (profile export, the Redis store)."""
        return {
            "recent": [list(r) for r in self.recent],
            "bought": sorted(self.bought),
            "session_id": self.session_id,
            "session_items": list(self.session_items),
            "tags": {k: list(v) for k, v in self.tags.items()},
            "last_ts": self.last_ts,
            "n_events": self.n_events,
            "queries": list(self.queries),
        }

    @classmethod
    def from_dict(cls, d: dict) -> UserState:
        return cls(
            recent=[(str(a), float(b), str(c)) for a, b, c in d.get("recent", [])],
            bought=set(d.get("bought", [])),
            session_id=d.get("session_id"),
            session_items=list(d.get("session_items", [])),
            tags={k: (float(v[0]), float(v[1])) for k, v in d.get("tags", {}).items()},
            last_ts=float(d.get("last_ts", 0.0)),
            n_events=int(d.get("n_events", 0)),
            queries=list(d.get("queries", [])),
        )


def absorbed(state: UserState | None, session: UserState) -> UserState:
    """``state`` (or a new one) with the anonymous ``session`` folded in
    (:meth:`UserState.absorb`)."""
    state = state or UserState()
    state.absorb(session)
    return state


def login_session(event: Event) -> str | None:
    """The key of the anonymous session an event folds into its shopper: the event names both
    a user and a session (the shopper signed in). ``None`` for every other event."""
    return session_key(event.session_id) if event.user_id and event.session_id else None


def _decay(w: float, as_of: float, now: float) -> float:
    if now <= as_of:
        return w
    return w * math.pow(0.5, (now - as_of) / TAG_HALF_LIFE_S)
