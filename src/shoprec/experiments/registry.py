"""Experiments and what they observed, kept in a :class:`~shoprec.store.protocols.StateStore`
(SQLite embedded, Redis for replicas): the store is the truth, shared by every process that
serves (workers on one machine, replicas on several).

- ``index``: every experiment's definition, which one runs, the promoted strategy and a fresh
  token on each change. All definition changes are one atomic update of this record, so a
  stop and a bandit's share update from two processes cannot overwrite each other; every
  process re-reads it when its token changed (checked at most every :data:`REFRESH_S`).
- ``user:<experiment>:<user key>``: one exposed shopper's variant and attributed counts,
  written at their first feedback (``POST /v1/feedback``: the shop reports what it showed),
  never by a served list alone; changed by atomic read-modify-write (two replicas serving one
  shopper lose no count).
- ``totals:<experiment>:<process>``: the per-variant sums of one process's changes (written
  with the shopper's record) and served lists; a report sums those in ``shards:<experiment>``.

Serving a list writes no record of the shopper: the variant is a hash of (experiment,
shopper) over the shares (:mod:`.assignment`); under a bandit, whose shares move, a shopper
with a record keeps its variant.

The records' types are in :mod:`.records`, the per-shopper and per-process counting in
:mod:`.ledger`, the report's statistics in :mod:`.report`.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict

from shoprec.data.event_types import is_purchase
from shoprec.data.keys import known_shopper_key
from shoprec.data.records import Event, EventType
from shoprec.experiments.assignment import bucket, pick
from shoprec.experiments.bandit import thompson_shares
from shoprec.experiments.exploration import ExplorationLog, keyed
from shoprec.experiments.ledger import Ledger
from shoprec.experiments.migrate import migration
from shoprec.experiments.offpolicy import Logged
from shoprec.experiments.records import (
    Assignment,
    Experiment,
    ExperimentError,
    Totals,
    UserRecord,
)
from shoprec.experiments.report import experiment_report
from shoprec.ranking.strategy import Strategy
from shoprec.store.errors import StoreUnavailable
from shoprec.store.protocols import StateStore

log = logging.getLogger(__name__)

#: New shoppers between two recomputations of a bandit's shares.
UPDATE_EVERY = 20
#: Seconds between two checks for definitions changed by another process (experiments
#: created or stopped, bandit shares, the promoted strategy) and for its totals.
REFRESH_S = 0.5


class ExperimentRegistry:
    """Experiments, sticky assignment and attribution over a JSON-record store.

    Parameters
    ----------
    store : any :class:`~shoprec.store.protocols.StateStore` of JSON-able dicts (the module
        docstring lists its keys); every process serving the shop opens the same one.
    refresh_s : how stale this process's view of the others' changes may get.

    At most one experiment runs at a time, so a shopper is never in two (no interaction
    between experiments to untangle). ``running`` is the only thing a request reads when
    none runs.
    """

    def __init__(self, store: StateStore[dict], refresh_s: float = REFRESH_S) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.experiments: dict[str, Experiment] = {}
        self._running: Experiment | None = None
        self.promoted: Strategy | None = None
        #: called after another process's change was read in (the engine re-reads promoted)
        self.on_change: Callable[[], None] | None = None
        self._token: str | None = None  # the index's token this view reflects
        self._checked = -float("inf")
        self._lock = threading.RLock()
        self.ledger = Ledger(store, self._lock)
        self.exploration = ExplorationLog(store)

    @property
    def running(self) -> Experiment | None:
        """The running experiment (as of at most ``refresh_s`` ago for other processes)."""
        if time.monotonic() - self._checked >= self.refresh_s:
            self.refresh()
        return self._running

    # -- life cycle -----------------------------------------------------------------------
    def load(self) -> None:
        """Read every definition from the store (after a restart).
        A store written before the shared index existed is migrated into it."""
        if self.store.get(INDEX) is None:
            pairs = keyed(self.store, "")
            if any(k.startswith("exp:") for k, _ in pairs):
                self._migrate(pairs)
        with self._lock:
            self._token = None
            self.refresh()
        log.info("experiments loaded: %d (running: %s)", len(self.experiments), self._running)

    def refresh(self) -> None:
        """Re-read the definitions if another process changed them since."""
        self._checked = time.monotonic()
        try:
            index = self.store.get(INDEX)
        except StoreUnavailable:  # serve on with the view we have; the next check retries
            return
        if index is None or index["token"] == self._token:
            return
        with self._lock:
            self._apply(index)
        if self.on_change is not None:
            self.on_change()

    def _apply(self, index: dict) -> None:
        """Make this view ``index``; existing :class:`Experiment` objects are updated in place
        (callers may hold them)."""
        for name, body in index["experiments"].items():
            fresh = Experiment.from_dict(body)
            exp = self.experiments.get(name)
            if exp is None:
                self.experiments[name] = fresh
            else:
                exp.__dict__.update(fresh.__dict__)
        running = index["running"]
        self._running = self.experiments[running] if running else None
        promoted = index.get("promoted")
        self.promoted = Strategy(**promoted) if promoted else None
        self._token = index["token"]

    def _define(self, change: Callable[[dict], Mapping[str, dict] | None]) -> None:
        """Change the definitions atomically: ``change(index)`` edits a copy of the index in
        place (raising refuses the change) and may return other records to write with it.
        This view follows at once."""

        def fn(old: dict | None) -> tuple[dict, Mapping[str, dict]]:
            index = copy.deepcopy(old) if old else _empty_index()
            puts = change(index) or {}
            index["token"] = uuid.uuid4().hex
            return index, puts

        with self._lock:
            _, new = self.store.update(INDEX, fn)
            assert new is not None
            self._apply(new)

    def _migrate(self, pairs: list[tuple[str, dict]]) -> None:
        """Fold an older store's records into the index (see :mod:`.migrate`)."""
        self._define(migration(pairs))

    def create(self, exp: Experiment) -> Experiment:
        """Start ``exp``; 409 if its name exists or another experiment runs."""

        def change(index: dict) -> None:
            if exp.name in index["experiments"]:
                raise ExperimentError(f"name: experiment {exp.name!r} already exists")
            if index["running"] is not None:
                raise ExperimentError(
                    f"name: experiment {index['running']!r} is running; stop it first"
                )
            index["experiments"][exp.name] = exp.to_dict()
            index["running"] = exp.name

        self._define(change)
        log.info("experiment %s started (%s, %d variants)", exp.name, exp.mode, len(exp.variants))
        return self.experiments[exp.name]  # the registry's object: later changes show in it

    def stop(self, name: str, action: str = "auto", variant: str | None = None) -> dict:
        """Stop ``name``: ``promote`` a variant (``variant``, or the best), ``rollback`` to
        the strategy served before, or ``auto``: promote the variant most likely to be best
        when its conversion lift over control has an interval above zero, else roll back.

        Returns the outcome: ``{"action", "variant", "strategy"}`` (strategy None on rollback).
        """
        self.refresh()
        exp = self.get(name)
        if exp.status != "running":
            raise ExperimentError(f"name: experiment {name!r} is already stopped")
        rows = self._report(exp)["variants"]
        names = [v for v, _ in exp.variants]
        if variant is not None and variant not in names:
            raise ExperimentError(f"variant: no variant {variant!r} in {name!r}", 422)
        if action == "auto":
            best = max(range(len(rows)), key=lambda k: rows[k]["prob_best"])
            lift = rows[best]["lift"]
            low = lift["conversion"]["low"] if lift is not None else None
            sure = best != exp.control and low is not None and low > 0
            action, variant = ("promote", names[best]) if sure else ("rollback", None)
        elif action == "promote" and variant is None:
            variant = names[max(range(len(rows)), key=lambda k: rows[k]["prob_best"])]
        strategy = dict(exp.variants)[variant] if action == "promote" and variant else None
        outcome = {
            "action": action,
            "variant": variant,
            "strategy": strategy.to_dict() if strategy else None,
        }

        def change(index: dict) -> None:
            body = index["experiments"][name]
            if body["status"] != "running":  # another process stopped it meanwhile
                raise ExperimentError(f"name: experiment {name!r} is already stopped")
            body.update(status="stopped", stopped_at=time.time(), outcome=outcome)
            if index["running"] == name:
                index["running"] = None
            if strategy is not None:
                index["promoted"] = strategy.to_dict()

        self._define(change)
        log.info("experiment %s stopped: %s %s", name, action, variant)
        return outcome

    def get(self, name: str) -> Experiment:
        exp = self.experiments.get(name)
        if exp is None:
            raise ExperimentError(f"name: no experiment {name!r}", 404)
        return exp

    # -- serving --------------------------------------------------------------------------
    def serve(self, user_key: str) -> Assignment | None:
        """The running experiment's variant for ``user_key`` (sticky), counting one served
        list in this process's totals (no record of the shopper is written); None when no
        experiment runs."""
        exp = self.running
        if exp is None or not user_key:
            return None
        try:
            return self._serve(exp, user_key)
        except StoreUnavailable:  # the shopper still gets a list (default strategy)
            log.warning("experiment store unavailable: %s served outside %s", user_key, exp.name)
            return None

    def _serve(self, exp: Experiment, user_key: str) -> Assignment:
        variant = self.variant_of(exp, user_key)
        self.ledger.count_list(exp, variant)
        name, strategy = exp.variants[variant]
        explore = exp.mode == "explore" and not self.exploration.full(exp.name)
        return Assignment(exp.name, name, strategy, explore)

    def variant_of(self, exp: Experiment, user_key: str) -> int:
        """The shopper's variant: the hash of (experiment, shopper) over the shares; a
        bandit's shopper with a record keeps the record's (its shares move)."""
        if exp.mode == "bandit":
            body = self.store.get(f"user:{exp.name}:{user_key}")
            if body is not None:
                return int(body["variant"])
        return pick(bucket(exp.name, user_key), exp.shares)

    def totals(self, name: str, fresh: bool = True) -> list[Totals]:
        """Per-variant totals over every process; ``fresh=False`` may reuse the others'
        totals read up to ``refresh_s`` ago (a bandit's frequent share updates)."""
        return self.ledger.totals(self.get(name), self.refresh_s, fresh)

    def _update_shares(self, exp: Experiment) -> None:
        totals = self.totals(exp.name, fresh=False)
        n = sum(t.users for t in totals)
        if n % UPDATE_EVERY:
            return
        shares = thompson_shares(
            [t.converted for t in totals], [t.users for t in totals], exp.floor, seed=n
        )

        def change(index: dict) -> None:
            body = index["experiments"][exp.name]
            if body["status"] == "running":  # a stop meanwhile wins
                body["shares"] = shares

        self._define(change)

    def on_feedback(
        self, user_key: str, impressions: int, clicks: int, request_id: str | None = None
    ) -> None:
        """Impressions and clicks reported on served lists (``POST /v1/feedback``): the
        shopper's exposure, recorded at the first feedback."""
        exp = self.running
        if exp is not None and user_key and (impressions or clicks):
            variant = self.variant_of(exp, user_key)

            def step(old: UserRecord | None) -> UserRecord:
                d = asdict(old) if old is not None else asdict(UserRecord(variant))
                d["impressions"] += impressions
                d["clicks"] += clicks
                return UserRecord(**d)

            old, _ = self.ledger.change(exp, user_key, step)
            if old is None and exp.mode == "bandit":
                self._update_shares(exp)
        if exp is not None and exp.mode == "explore" and request_id:
            self.exploration.on_feedback(exp.name, user_key, request_id, clicks)

    def log_exploration(
        self, user_key: str, lists: list[list[str]], served: int, diversity: list[float]
    ) -> str | None:
        """Log one request of the running ``explore`` experiment; returns its request id."""
        exp = self.running
        if exp is None or exp.mode != "explore":
            return None
        return self.exploration.record(
            exp.name, user_key, lists, served, diversity, exp.shares, exp.log_limit
        )

    def exploration_log(self, name: str) -> tuple[list[Strategy], list[Logged]]:
        """The weight grid (the variants' strategies) and the logged records of ``name``."""
        exp = self.get(name)
        return [s for _, s in exp.variants], self.exploration.records(name)

    def on_events(self, events: Iterable[Event], price: Callable[[str], float]) -> None:
        """Attribute newly stored events (duplicates already dropped by the event log):
        click, add-to-cart and purchase events (revenue: ``price(item_id)``) of shoppers
        the running experiment exposed, to the variant that served them."""
        exp = self.running
        if exp is None:
            return
        events = list(events)
        if exp.mode == "explore":
            self.exploration.on_events(exp.name, events)
        for e in events:
            if e.type is EventType.CLICK:
                delta: dict[str, float] = {"click_events": 1}
            elif e.type is EventType.ADD_TO_CART:
                delta = {"add_to_carts": 1}
            elif is_purchase(e.type):  # the built-in and the shop's purchase types
                delta = {"purchases": 1, "revenue": price(e.item_id)}
            else:
                continue
            key = known_shopper_key(e.user_id, e.session_id)
            self._attribute(key, delta)

    def _attribute(self, user_key: str, delta: dict[str, float]) -> None:
        exp = self.running
        if exp is None or not user_key:
            return
        key = f"user:{exp.name}:{user_key}"
        if self.store.get(key) is None:  # never served by the experiment: nothing to do
            return

        def step(old: UserRecord | None) -> UserRecord | None:
            if old is None:  # erased meanwhile
                return None
            d = asdict(old)
            for k, v in delta.items():
                d[k] += v
            return UserRecord(**d)

        self.ledger.change(exp, user_key, step)

    def forget(self, user_key: str) -> None:
        """Erase a shopper from every experiment (``DELETE /v1/users/{id}``): their records
        and every exploration record naming them."""
        self.refresh()
        for exp in list(self.experiments.values()):
            if self.store.get(f"user:{exp.name}:{user_key}") is not None:
                self.ledger.change(exp, user_key, lambda old: None)
        self.exploration.forget(user_key, list(self.experiments))

    def held(self, user_key: str) -> dict[str, list[dict]]:
        """Every experiment and exploration record naming a shopper (their export)."""
        self.refresh()
        names = list(self.experiments)
        records = []
        for name in names:
            body = self.store.get(f"user:{name}:{user_key}")
            if body is not None:
                variant = self.experiments[name].variants[int(body["variant"])][0]
                records.append({"experiment": name, "variant_name": variant, **body})
        return {"experiments": records, "exploration": self.exploration.held(user_key, names)}

    # -- statistics -----------------------------------------------------------------------
    def report(self, name: str, level: float = 0.95) -> dict:
        """Per variant: exposures, CTR, conversion and revenue per user with intervals, the
        lift against control (Welch interval of the difference) and P(best) on conversion."""
        self.refresh()
        return self._report(self.get(name), level)

    def _report(self, exp: Experiment, level: float = 0.95) -> dict:
        return experiment_report(exp, self.totals(exp.name), level)

    def list(self) -> list[dict]:
        return [
            {"name": e.name, "status": e.status, "mode": e.mode, "variants": len(e.variants)}
            for e in self.experiments.values()
        ]


#: The record holding every definition (see the module docstring).
INDEX = "index"


def _empty_index() -> dict:
    return {"experiments": {}, "running": None, "promoted": None, "token": ""}
