"""The live exploration log behind off-policy tuning.

While an ``explore`` experiment runs, a recommendation request computes the list of every
variant (weight setting), serves the shopper's sticky variant, and logs one record: all the
lists, which one was served, their diversity, and the feedback that follows. The log is
bounded: the first ``log_limit`` requests of the experiment are logged (counted in
``logged:<experiment>``), later ones are served without computing the other lists, so a flood
of requests cannot grow the store. Clicks arrive by
the ``request_id`` the response carried (``POST /v1/feedback``); purchases by last touch: the
shopper's latest logged list that held the item. :func:`~shoprec.experiments.offpolicy.estimate`
reads the records (``shoprec experiments tune --store ... --experiment ...``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict

from shoprec.data.event_types import is_purchase
from shoprec.data.keys import known_shopper_key
from shoprec.data.records import Event
from shoprec.experiments.offpolicy import Logged
from shoprec.store.protocols import StateStore


class ExplorationLog:
    """Records keyed ``log:<experiment>:<request id>`` in a JSON-record store, and per shopper
    ``touch:<experiment>:<user key>``: their logged request ids, oldest first (for purchases).

    Every read and write goes to the store, so feedback reaching another worker or replica
    than the one that served the list is still credited to it.
    """

    def __init__(self, store: StateStore[dict]) -> None:
        self.store = store
        self._full: set[str] = set()  # experiments whose log reached its limit

    def full(self, name: str) -> bool:
        """Whether ``name``'s log reached its limit (as this process found)."""
        return name in self._full

    def record(
        self,
        name: str,
        user_key: str,
        lists: list[list[str]],
        served: int,
        diversity: list[float],
        shares: list[float],
        limit: int = 100_000,
    ) -> str | None:
        """Log one exploration request; returns its request id, or None when the
        experiment's log holds ``limit`` requests already (nothing is written)."""
        rid = uuid.uuid4().hex
        body = {
            "user": user_key,
            **asdict(Logged(lists, served, 0, 0, diversity, list(shares))),
        }

        def count(old: dict | None) -> tuple[dict | None, Mapping[str, dict]]:
            n = old["n"] if old else 0
            if n >= limit:
                return old, {}
            return {"n": n + 1}, {f"log:{name}:{rid}": body}

        before, after = self.store.update(f"logged:{name}", count)
        if after is None or (before is not None and after["n"] == before["n"]):
            self._full.add(name)
            return None

        def touch(old: dict | None) -> tuple[dict, Mapping[str, dict]]:
            return {"ids": [*(old["ids"] if old else []), rid][-TOUCHES:]}, {}

        self.store.update(f"touch:{name}:{user_key}", touch)
        return rid

    def on_feedback(self, name: str, user_key: str, request_id: str, clicks: int) -> None:
        """Clicks on the list of ``request_id`` (ignored unless it was this shopper's)."""
        if clicks:
            self._credit(f"log:{name}:{request_id}", user_key, "clicks", clicks)

    def _credit(self, key: str, user_key: str, field: str, n: int) -> None:
        def add(old: dict | None) -> tuple[dict | None, Mapping[str, dict]]:
            if old is None or old["user"] != user_key:
                return old, {}
            return {**old, field: old[field] + n}, {}

        self.store.update(key, add)

    def on_events(self, name: str, events: Iterable[Event]) -> None:
        """Purchases, credited to the shopper's latest logged list that showed the item."""
        for e in events:
            if not is_purchase(e.type):  # the built-in and the shop's purchase types
                continue
            user = known_shopper_key(e.user_id, e.session_id)
            touched = self.store.get(f"touch:{name}:{user}") if user else None
            for rid in reversed(touched["ids"] if touched else []):
                body = self.store.get(f"log:{name}:{rid}")
                if body is not None and e.item_id in body["lists"][body["served"]]:
                    self._credit(f"log:{name}:{rid}", user, "purchases", 1)
                    break

    def records(self, name: str) -> list[Logged]:
        """Every logged request of ``name`` (read from the store)."""
        prefix = f"log:{name}:"
        return [
            Logged(**{k: v for k, v in b.items() if k != "user"})
            for key, b in keyed(self.store, prefix)
        ]

    def forget(self, user_key: str, names: Iterable[str]) -> None:
        """Erase a shopper's records in experiments ``names`` (``DELETE /v1/users/{id}``):
        every logged request naming them, not only the latest :data:`TOUCHES` (a scan of the
        logs, bounded by their limits)."""
        for name in names:
            for key, _ in self._theirs(user_key, name):
                self.store.delete(key)
            self.store.delete(f"touch:{name}:{user_key}")

    def held(self, user_key: str, names: Iterable[str]) -> list[dict]:
        """Every logged request naming the shopper, with its experiment and request id."""
        out = []
        for name in names:
            for key, body in self._theirs(user_key, name):
                out.append({"experiment": name, "request_id": key.rsplit(":", 1)[1], **body})
        return out

    def _theirs(self, user_key: str, name: str) -> list[tuple[str, dict]]:
        return [(k, b) for k, b in keyed(self.store, f"log:{name}:") if b.get("user") == user_key]


#: Logged requests remembered per shopper for crediting purchases (the latest ones).
TOUCHES = 200


def keyed(store: StateStore[dict], prefix: str) -> list[tuple[str, dict]]:
    """Every ``(key, record)`` of ``store`` whose key starts with ``prefix`` (one query where
    the store can filter, as SQLite can)."""
    items = getattr(store, "items", None)
    if callable(items):
        return list(items(prefix))
    out = []
    for key in store.users():
        if key.startswith(prefix):
            body = store.get(key)
            if body is not None:
                out.append((key, body))
    return out
