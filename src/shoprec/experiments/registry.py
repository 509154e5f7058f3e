"""Experiments and what they observed, kept in a :class:`~shoprec.store.protocols.StateStore`
(SQLite embedded, Redis for replicas) so that they survive a restart.

The store holds the truth: one record per experiment and one per exposed shopper (their
sticky variant and their attributed counts). The per-variant totals the statistics need are
derived in memory and rebuilt from those records on :meth:`ExperimentRegistry.load`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields

from shoprec.data.records import Event, EventType
from shoprec.experiments.assignment import bucket, pick
from shoprec.experiments.bandit import thompson_shares
from shoprec.experiments.exploration import ExplorationLog
from shoprec.experiments.offpolicy import Logged
from shoprec.experiments.stats import Moments, mean_ci, prob_best, welch_diff, wilson
from shoprec.serving.strategy import Strategy
from shoprec.store.protocols import StateStore

log = logging.getLogger(__name__)

#: New shoppers between two recomputations of a bandit's shares.
UPDATE_EVERY = 20


class ExperimentError(ValueError):
    """A request the registry refuses; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Experiment:
    """An experiment's definition and life cycle.

    Attributes
    ----------
    name : unique id (also the hashing salt).
    variants : (variant name, strategy) pairs; ``control`` indexes the baseline.
    traffic : fixed shares (mode ``fixed``) or the bandit's starting shares.
    mode : ``fixed``, ``bandit`` (Thompson sampling on conversion, ``floor`` per variant) or
        ``explore`` (fixed shares; every request also logs every variant's list for
        off-policy tuning, see :mod:`shoprec.experiments.exploration`).
    shares : the shares new shoppers are assigned with now.
    status : ``running`` or ``stopped``; ``outcome`` says what stopping did.
    """

    name: str
    variants: list[tuple[str, Strategy]]
    traffic: list[float]
    mode: str = "fixed"
    floor: float = 0.05
    control: int = 0
    status: str = "running"
    created_at: float = field(default_factory=time.time)
    stopped_at: float | None = None
    outcome: dict | None = None
    shares: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.shares:
            self.shares = list(self.traffic)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["variants"] = [{"name": n, "strategy": s.to_dict()} for n, s in self.variants]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Experiment:
        d = dict(d)
        d["variants"] = [(v["name"], Strategy(**v["strategy"])) for v in d["variants"]]
        return cls(**d)


@dataclass
class UserRecord:
    """One exposed shopper in one experiment: the sticky variant and attributed counts."""

    variant: int
    lists: int = 0
    impressions: int = 0
    clicks: int = 0
    click_events: int = 0
    add_to_carts: int = 0
    purchases: int = 0
    revenue: float = 0.0


@dataclass
class Totals:
    """Per-variant sums over its shoppers (derived from the user records)."""

    users: int = 0
    lists: int = 0
    impressions: int = 0
    clicks: int = 0
    click_events: int = 0
    add_to_carts: int = 0
    purchases: int = 0
    converted: int = 0
    revenue: Moments = field(default_factory=Moments)

    def add(self, old: UserRecord | None, new: UserRecord | None) -> None:
        """Replace one shopper's contribution ``old`` by ``new`` (None: absent)."""
        for sign, rec in ((-1, old), (1, new)):
            if rec is None:
                continue
            self.users += sign
            for name in ("lists", "impressions", "clicks", "click_events", "add_to_carts"):
                setattr(self, name, getattr(self, name) + sign * getattr(rec, name))
            self.purchases += sign * rec.purchases
            self.converted += sign * (rec.purchases > 0)
        self.revenue.n = self.users
        self.revenue.change(old.revenue if old else 0.0, new.revenue if new else 0.0)


@dataclass(frozen=True)
class Assignment:
    """What a recommendation request is served with."""

    experiment: str
    variant: str
    strategy: Strategy
    explore: bool = False


_USER_FIELDS = {f.name for f in fields(UserRecord)}


class ExperimentRegistry:
    """Experiments, sticky assignment and attribution over a JSON-record store.

    Parameters
    ----------
    store : any :class:`~shoprec.store.protocols.StateStore` of JSON-able dicts; keys
        ``exp:<name>``, ``user:<name>:<user key>`` and ``promoted``.

    At most one experiment runs at a time, so a shopper is never in two (no interaction
    between experiments to untangle). ``running`` is the only thing a request reads when
    none runs.
    """

    def __init__(self, store: StateStore[dict]) -> None:
        self.store = store
        self.experiments: dict[str, Experiment] = {}
        self.running: Experiment | None = None
        self.promoted: Strategy | None = None
        self._users: dict[str, dict[str, UserRecord]] = {}
        self._totals: dict[str, list[Totals]] = {}
        self._lock = threading.Lock()
        self.exploration = ExplorationLog(store)

    # -- life cycle -----------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild experiments and totals from the store (after a restart)."""
        pairs = _records(self.store)
        with self._lock:
            self.experiments.clear()
            self._users.clear()
            self._totals.clear()
            self.running = None
            for key, body in pairs:
                if key.startswith("exp:"):
                    exp = Experiment.from_dict(body)
                    self._install(exp)
            for key, body in pairs:
                if key.startswith("user:"):
                    name, user = key[5:].split(":", 1)
                    if name in self.experiments:
                        rec = UserRecord(**{k: v for k, v in body.items() if k in _USER_FIELDS})
                        self._users[name][user] = rec
                        self._totals[name][rec.variant].add(None, rec)
                elif key == "promoted":
                    self.promoted = Strategy(**body)
        self.exploration.load(pairs)
        log.info("experiments loaded: %d (running: %s)", len(self.experiments), self.running)

    def _install(self, exp: Experiment) -> None:
        self.experiments[exp.name] = exp
        self._users[exp.name] = {}
        self._totals[exp.name] = [Totals() for _ in exp.variants]
        if exp.status == "running":
            self.running = exp

    def create(self, exp: Experiment) -> Experiment:
        """Start ``exp``; 409 if its name exists or another experiment runs."""
        with self._lock:
            if exp.name in self.experiments:
                raise ExperimentError(f"name: experiment {exp.name!r} already exists")
            if self.running is not None:
                raise ExperimentError(
                    f"name: experiment {self.running.name!r} is running; stop it first"
                )
            self.store.put(f"exp:{exp.name}", exp.to_dict())
            self._install(exp)
        log.info("experiment %s started (%s, %d variants)", exp.name, exp.mode, len(exp.variants))
        return exp

    def stop(self, name: str, action: str = "auto", variant: str | None = None) -> dict:
        """Stop ``name``: ``promote`` a variant (``variant``, or the best), ``rollback`` to
        the strategy served before, or ``auto``: promote the variant most likely to be best
        when its conversion lift over control has an interval above zero, else roll back.

        Returns the outcome: ``{"action", "variant", "strategy"}`` (strategy None on rollback).
        """
        exp = self.get(name)
        if exp.status != "running":
            raise ExperimentError(f"name: experiment {name!r} is already stopped")
        report = self.report(name)
        rows = report["variants"]
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
        with self._lock:
            exp.status, exp.stopped_at, exp.outcome = "stopped", time.time(), outcome
            self.store.put(f"exp:{name}", exp.to_dict())
            if strategy is not None:
                self.promoted = strategy
                self.store.put("promoted", strategy.to_dict())
            if self.running is exp:
                self.running = None
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
        list; None when no experiment runs."""
        exp = self.running
        if exp is None or not user_key:
            return None
        with self._lock:
            users = self._users[exp.name]
            old = users.get(user_key)
            if old is None:
                k = pick(bucket(exp.name, user_key), exp.shares)
                new = UserRecord(k, lists=1)
            else:
                new = UserRecord(**{**asdict(old), "lists": old.lists + 1})
            self._put(exp, user_key, old, new)
            if old is None and exp.mode == "bandit":
                self._update_shares(exp)
        name, strategy = exp.variants[new.variant]
        return Assignment(exp.name, name, strategy, exp.mode == "explore")

    def _put(self, exp: Experiment, user_key: str, old: UserRecord | None, new: UserRecord) -> None:
        """Persist one shopper's record and move the totals; call with the lock held."""
        self.store.put(f"user:{exp.name}:{user_key}", asdict(new))
        self._users[exp.name][user_key] = new
        if old is not None and old.variant != new.variant:
            raise RuntimeError("a shopper's variant never changes")
        self._totals[exp.name][new.variant].add(old, new)

    def _update_shares(self, exp: Experiment) -> None:
        totals = self._totals[exp.name]
        n = sum(t.users for t in totals)
        if n % UPDATE_EVERY:
            return
        exp.shares = thompson_shares(
            [t.converted for t in totals], [t.users for t in totals], exp.floor, seed=n
        )
        self.store.put(f"exp:{exp.name}", exp.to_dict())

    def on_feedback(
        self, user_key: str, impressions: int, clicks: int, request_id: str | None = None
    ) -> None:
        """Impressions and clicks reported on served lists (``POST /v1/feedback``)."""
        self._attribute(user_key, {"impressions": impressions, "clicks": clicks})
        exp = self.running
        if exp is not None and exp.mode == "explore" and request_id:
            self.exploration.on_feedback(exp.name, user_key, request_id, clicks)

    def log_exploration(
        self, user_key: str, lists: list[list[str]], served: int, diversity: list[float]
    ) -> str | None:
        """Log one request of the running ``explore`` experiment; returns its request id."""
        exp = self.running
        if exp is None or exp.mode != "explore":
            return None
        return self.exploration.record(exp.name, user_key, lists, served, diversity, exp.shares)

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
            elif e.type is EventType.PURCHASE:
                delta = {"purchases": 1, "revenue": price(e.item_id)}
            else:
                continue
            key = e.user_id or (f"session:{e.session_id}" if e.session_id else "")
            self._attribute(key, delta)

    def _attribute(self, user_key: str, delta: dict[str, float]) -> None:
        exp = self.running
        if exp is None or not user_key:
            return
        with self._lock:
            old = self._users[exp.name].get(user_key)
            if old is None:  # never served by the experiment: nothing to attribute
                return
            d = asdict(old)
            for k, v in delta.items():
                d[k] += v
            self._put(exp, user_key, old, UserRecord(**d))

    def forget(self, user_key: str) -> None:
        """Erase a shopper from every experiment (``DELETE /v1/users/{id}``)."""
        with self._lock:
            for name, users in self._users.items():
                old = users.pop(user_key, None)
                if old is not None:
                    self._totals[name][old.variant].add(old, None)
                    self.store.delete(f"user:{name}:{user_key}")
        self.exploration.forget(user_key)

    # -- statistics -----------------------------------------------------------------------
    def report(self, name: str, level: float = 0.95) -> dict:
        """Per variant: exposures, CTR, conversion and revenue per user with intervals, the
        lift against control (Welch interval of the difference) and P(best) on conversion."""
        exp = self.get(name)
        with self._lock:
            totals = [
                Totals(**{**asdict(t), "revenue": Moments(**asdict(t.revenue))})
                for t in self._totals[name]
            ]
        best = prob_best([t.converted for t in totals], [t.users for t in totals])
        metrics = [_metrics(t) for t in totals]
        ctl = metrics[exp.control]
        rows = []
        for k, ((vname, strategy), t, m) in enumerate(
            zip(exp.variants, totals, metrics, strict=True)
        ):
            ctr_ci = wilson(t.clicks, t.impressions, level)
            conv_ci = wilson(t.converted, t.users, level)
            rows.append(
                {
                    "name": vname,
                    "strategy": strategy.to_dict(),
                    "share": exp.shares[k],
                    "users": t.users,
                    "lists": t.lists,
                    "impressions": t.impressions,
                    "clicks": t.clicks,
                    "click_events": t.click_events,
                    "add_to_carts": t.add_to_carts,
                    "purchases": t.purchases,
                    "converted": t.converted,
                    "revenue": t.revenue.s,
                    "ctr": _ci(m["ctr"].mean if t.impressions else None, *ctr_ci),
                    "conversion": _ci(m["conversion"].mean if t.users else None, *conv_ci),
                    "revenue_per_user": _ci(
                        t.revenue.mean if t.users else None, *mean_ci(t.revenue, level)
                    ),
                    "prob_best": best[k],
                    "lift": None
                    if k == exp.control
                    else {key: _lift(m[key], ctl[key], level) for key in m},
                }
            )
        return {
            "name": exp.name,
            "status": exp.status,
            "mode": exp.mode,
            "control": exp.variants[exp.control][0],
            "floor": exp.floor,
            "traffic": exp.traffic,
            "created_at": exp.created_at,
            "stopped_at": exp.stopped_at,
            "outcome": exp.outcome,
            "level": level,
            "variants": rows,
        }

    def list(self) -> list[dict]:
        return [
            {"name": e.name, "status": e.status, "mode": e.mode, "variants": len(e.variants)}
            for e in self.experiments.values()
        ]


def _records(store: StateStore[dict]) -> list[tuple[str, dict]]:
    items = getattr(store, "items", None)  # one query on SQLite instead of one per key
    if callable(items):
        return list(items())
    out = []
    for key in store.users():
        body = store.get(key)
        if body is not None:
            out.append((key, body))
    return out


def _metrics(t: Totals) -> dict[str, Moments]:
    """Per-unit moments: CTR over impressions, conversion and revenue over shoppers."""
    clicks = min(t.clicks, t.impressions)  # a click without its impression is not a rate
    return {
        "ctr": Moments(t.impressions, clicks, clicks),
        "conversion": Moments(t.users, t.converted, t.converted),
        "revenue_per_user": t.revenue,
    }


def _ci(value: float | None, low: float, high: float) -> dict:
    nan = low != low or high != high
    return {"value": value, "low": None if nan else low, "high": None if nan else high}


def _lift(treat: Moments, control: Moments, level: float) -> dict:
    diff, low, high = welch_diff(treat, control, level)
    rel = diff / control.mean if control.mean else None
    out = _ci(diff, low, high)
    return {"diff": out["value"], "low": out["low"], "high": out["high"], "relative": rel}
