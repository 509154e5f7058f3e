"""The live exploration log behind off-policy tuning.

While an ``explore`` experiment runs, every recommendation request computes the list of every
variant (weight setting), serves the shopper's sticky variant, and logs one record: all the
lists, which one was served, their diversity, and the feedback that follows. Clicks arrive by
the ``request_id`` the response carried (``POST /v1/feedback``); purchases by last touch: the
shopper's latest logged list that held the item. :func:`~shoprec.experiments.offpolicy.estimate`
reads the records (``shoprec experiments tune --store ... --experiment ...``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict

from shoprec.data.records import Event, EventType
from shoprec.experiments.offpolicy import Logged
from shoprec.store.protocols import StateStore


class ExplorationLog:
    """Records keyed ``log:<experiment>:<request id>`` in a JSON-record store."""

    def __init__(self, store: StateStore[dict]) -> None:
        self.store = store
        self._records: dict[str, dict[str, dict]] = {}  # experiment -> request id -> record
        self._latest: dict[tuple[str, str], list[str]] = {}  # (experiment, user) -> ids
        self._lock = threading.Lock()

    def load(self, pairs: Iterable[tuple[str, dict]]) -> None:
        """Rebuild from the store's ``log:`` records, in the order they were put."""
        with self._lock:
            self._records.clear()
            self._latest.clear()
            for key, body in pairs:
                if key.startswith("log:"):
                    name, rid = key[4:].split(":", 1)
                    self._index(name, rid, body)

    def _index(self, name: str, rid: str, body: dict) -> None:
        self._records.setdefault(name, {})[rid] = body
        self._latest.setdefault((name, body["user"]), []).append(rid)

    def record(
        self,
        name: str,
        user_key: str,
        lists: list[list[str]],
        served: int,
        diversity: list[float],
        shares: list[float],
    ) -> str:
        """Log one exploration request; returns its request id."""
        rid = uuid.uuid4().hex
        body = {
            "user": user_key,
            **asdict(Logged(lists, served, 0, 0, diversity, list(shares))),
        }
        with self._lock:
            self.store.put(f"log:{name}:{rid}", body)
            self._index(name, rid, body)
        return rid

    def on_feedback(self, name: str, user_key: str, request_id: str, clicks: int) -> None:
        """Clicks on the list of ``request_id`` (ignored unless it was this shopper's)."""
        with self._lock:
            body = self._records.get(name, {}).get(request_id)
            if body is None or body["user"] != user_key or not clicks:
                return
            body["clicks"] += clicks
            self.store.put(f"log:{name}:{request_id}", body)

    def on_events(self, name: str, events: Iterable[Event]) -> None:
        """Purchases, credited to the shopper's latest logged list that showed the item."""
        with self._lock:
            for e in events:
                if e.type is not EventType.PURCHASE:
                    continue
                user = e.user_id or (f"session:{e.session_id}" if e.session_id else "")
                for rid in reversed(self._latest.get((name, user), [])):
                    body = self._records[name][rid]
                    if e.item_id in body["lists"][body["served"]]:
                        body["purchases"] += 1
                        self.store.put(f"log:{name}:{rid}", body)
                        break

    def records(self, name: str) -> list[Logged]:
        with self._lock:
            bodies = list(self._records.get(name, {}).values())
        return [Logged(**{k: v for k, v in b.items() if k != "user"}) for b in bodies]

    def forget(self, user_key: str) -> None:
        """Erase a shopper's records (``DELETE /v1/users/{id}``)."""
        with self._lock:
            for (name, user), rids in list(self._latest.items()):
                if user != user_key:
                    continue
                for rid in rids:
                    self._records[name].pop(rid, None)
                    self.store.delete(f"log:{name}:{rid}")
                del self._latest[(name, user)]
