"""What the experiment store holds: an experiment's definition, one exposed shopper's record
and per-variant totals; and the assignment a recommendation request is served with."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from shoprec.experiments.stats import Moments
from shoprec.ranking.strategy import Strategy


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
        ``explore`` (fixed shares; requests also log every variant's list for off-policy
        tuning, see :mod:`shoprec.experiments.exploration`).
    log_limit : ``explore``: at most this many requests are logged (the first ones); later
        requests are served their variant and not logged.
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
    log_limit: int = 100_000

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
    """One exposed shopper in one experiment (written at their first feedback, never by a
    served list alone): the variant and attributed counts. ``lists`` is kept for records
    written before served lists were counted per process only."""

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


def user_record(body: Mapping) -> UserRecord:
    """A shopper's record as read from the store (keys it does not know are ignored)."""
    return UserRecord(**{k: v for k, v in body.items() if k in _USER_FIELDS})
