"""Experiments and what they observed, kept in a :class:`~shoprec.store.protocols.StateStore`
(SQLite embedded, Redis for replicas): the store is the truth, shared by every process that
serves (workers on one machine, replicas on several).

- ``index``: every experiment's definition, which one runs, the promoted strategy and a fresh
  token on each change. All definition changes are one atomic update of this record, so a
  stop and a bandit's share update from two processes cannot overwrite each other; every
  process re-reads it when its token changed (checked at most every :data:`REFRESH_S`).
- ``user:<experiment>:<user key>``: one exposed shopper's sticky variant and attributed counts,
  changed by atomic read-modify-write (two replicas serving one shopper lose no count).
- ``totals:<experiment>:<process>``: the per-variant sums of the changes one process made,
  written in the same transaction as the shopper's record (so they never disagree); a report
  sums the processes listed in ``shards:<experiment>``.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields

from shoprec.data.keys import known_shopper_key
from shoprec.data.records import Event, EventType
from shoprec.experiments.assignment import bucket, pick
from shoprec.experiments.bandit import thompson_shares
from shoprec.experiments.exploration import ExplorationLog, keyed
from shoprec.experiments.offpolicy import Logged
from shoprec.experiments.stats import Moments, mean_ci, prob_best, welch_diff, wilson
from shoprec.ranking.strategy import Strategy
from shoprec.store.protocols import StateStore
from shoprec.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

#: New shoppers between two recomputations of a bandit's shares.
UPDATE_EVERY = 20
#: Seconds between two checks for definitions changed by another process (experiments
#: created or stopped, bandit shares, the promoted strategy) and for its totals.
REFRESH_S = 0.5


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

    def merged(self, other: Totals) -> Totals:
        """The sums of two processes' totals."""
        d = {k: v + getattr(other, k) for k, v in asdict(self).items() if k != "revenue"}
        r, o = self.revenue, other.revenue
        return Totals(**d, revenue=Moments(r.n + o.n, r.s + o.s, r.ss + o.ss))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> Totals:
        return cls(**{**d, "revenue": Moments(**d["revenue"])})


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
        self.shard = uuid.uuid4().hex[:12]  # this process's totals record
        self._mine: dict[str, list[Totals]] = {}  # experiment -> this process's totals
        self._others: dict[str, tuple[float, list[Totals]]] = {}  # the rest, when read
        self._token: str | None = None  # the index's token this view reflects
        self._checked = -float("inf")
        self._lock = threading.RLock()
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
        """Fold an older store's ``exp:`` and ``promoted`` records into the index, and each
        experiment's totals (rebuilt from its shopper records) into one ``base`` shard."""
        exps = {k[4:]: b for k, b in pairs if k.startswith("exp:")}
        totals: dict[str, list[Totals]] = {
            name: [Totals() for _ in body["variants"]] for name, body in exps.items()
        }
        for key, body in pairs:
            if key.startswith("user:"):
                name = key[5:].split(":", 1)[0]
                if name in totals:
                    rec = _user(body)
                    totals[name][rec.variant].add(None, rec)

        def change(index: dict) -> Mapping[str, dict]:
            if index["experiments"]:  # another process migrated first
                return {}
            index["experiments"] = exps
            running = [n for n, b in exps.items() if b["status"] == "running"]
            index["running"] = running[0] if running else None
            index["promoted"] = dict(pairs).get("promoted")
            puts: dict[str, dict] = {f"shards:{n}": {"ids": ["base"]} for n in exps}
            for n, ts in totals.items():
                puts[f"totals:{n}:base"] = {"variants": [t.to_dict() for t in ts]}
            return puts

        self._define(change)

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
        list; None when no experiment runs."""
        exp = self.running
        if exp is None or not user_key:
            return None
        try:
            return self._serve(exp, user_key)
        except StoreUnavailable:  # the shopper still gets a list (default strategy)
            log.warning("experiment store unavailable: %s served outside %s", user_key, exp.name)
            return None

    def _serve(self, exp: Experiment, user_key: str) -> Assignment:
        def step(old: UserRecord | None) -> UserRecord:
            if old is None:
                return UserRecord(pick(bucket(exp.name, user_key), exp.shares), lists=1)
            return UserRecord(**{**asdict(old), "lists": old.lists + 1})

        old, new = self._change(exp, user_key, step)
        assert new is not None
        if old is None and exp.mode == "bandit":
            self._update_shares(exp)
        name, strategy = exp.variants[new.variant]
        return Assignment(exp.name, name, strategy, exp.mode == "explore")

    def _change(
        self,
        exp: Experiment,
        user_key: str,
        step: Callable[[UserRecord | None], UserRecord | None],
    ) -> tuple[UserRecord | None, UserRecord | None]:
        """Apply ``step`` to one shopper's record and this process's totals, atomically."""
        with self._lock:
            mine = self._shard(exp)
            after: list[list[Totals]] = []

            def fn(body: dict | None) -> tuple[dict | None, Mapping[str, dict]]:
                old = _user(body) if body is not None else None
                new = step(old)
                if old is not None and new is not None and old.variant != new.variant:
                    raise RuntimeError("a shopper's variant never changes")
                if new == old:
                    return body, {}
                totals = [Totals.from_dict(t.to_dict()) for t in mine]
                variant = (new or old).variant  # type: ignore[union-attr]
                totals[variant].add(old, new)
                after[:] = [totals]
                shard = {"variants": [t.to_dict() for t in totals]}
                return (asdict(new) if new else None), {f"totals:{exp.name}:{self.shard}": shard}

            old, new = self.store.update(f"user:{exp.name}:{user_key}", fn)
            if after:
                self._mine[exp.name] = after[0]
            return (
                _user(old) if old is not None else None,
                _user(new) if new is not None else None,
            )

    def _shard(self, exp: Experiment) -> list[Totals]:
        """This process's totals for ``exp``, its shard listed in the store on first use."""
        mine = self._mine.get(exp.name)
        if mine is None:
            shard = self.shard

            def add(old: dict | None) -> tuple[dict, Mapping[str, dict]]:
                ids = list(old["ids"]) if old else []
                return {"ids": [*ids, shard] if shard not in ids else ids}, {}

            self.store.update(f"shards:{exp.name}", add)
            mine = self._mine[exp.name] = [Totals() for _ in exp.variants]
        return mine

    def totals(self, name: str, fresh: bool = True) -> list[Totals]:
        """Per-variant totals over every process; ``fresh=False`` may reuse the others'
        totals read up to ``refresh_s`` ago (a bandit's frequent share updates)."""
        exp = self.get(name)
        now = time.monotonic()
        cached = self._others.get(name)
        if fresh or cached is None or now - cached[0] >= self.refresh_s:
            others = [Totals() for _ in exp.variants]
            shards = self.store.get(f"shards:{name}")
            for sid in shards["ids"] if shards else []:
                body = None if sid == self.shard else self.store.get(f"totals:{name}:{sid}")
                if body is not None:
                    others = [
                        a.merged(Totals.from_dict(b))
                        for a, b in zip(others, body["variants"], strict=True)
                    ]
            cached = self._others[name] = (now, others)
        with self._lock:
            mine = self._mine.get(name) or [Totals() for _ in exp.variants]
            return [a.merged(b) for a, b in zip(cached[1], mine, strict=True)]

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

        self._change(exp, user_key, step)

    def forget(self, user_key: str) -> None:
        """Erase a shopper from every experiment (``DELETE /v1/users/{id}``)."""
        self.refresh()
        for exp in list(self.experiments.values()):
            if self.store.get(f"user:{exp.name}:{user_key}") is not None:
                self._change(exp, user_key, lambda old: None)
        self.exploration.forget(user_key, list(self.experiments))

    # -- statistics -----------------------------------------------------------------------
    def report(self, name: str, level: float = 0.95) -> dict:
        """Per variant: exposures, CTR, conversion and revenue per user with intervals, the
        lift against control (Welch interval of the difference) and P(best) on conversion."""
        self.refresh()
        return self._report(self.get(name), level)

    def _report(self, exp: Experiment, level: float = 0.95) -> dict:
        totals = self.totals(exp.name)
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


#: The record holding every definition (see the module docstring).
INDEX = "index"


def _empty_index() -> dict:
    return {"experiments": {}, "running": None, "promoted": None, "token": ""}


def _user(body: Mapping) -> UserRecord:
    return UserRecord(**{k: v for k, v in body.items() if k in _USER_FIELDS})


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
