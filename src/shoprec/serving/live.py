"""What every job of the engine reads and its writers update: the live catalog, the trending
counts, the shoppers' states, the served model bundle and the clock. One object shared by
reference, so a swapped bundle or an advanced clock is seen by every job at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from shoprec.online.state import UserState
from shoprec.online.trending import Trending
from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.catalog import Catalog
from shoprec.serving.clock import EngineClock
from shoprec.store.protocols import StateStore


@dataclass
class Live:
    """``bundle`` is swapped whole (hot reload, catalog growth: a request keeps the one it
    read); ``time`` keeps "now" for decay, trending and new arrivals (:attr:`clock`) and the
    window of event times accepted (:mod:`~shoprec.serving.clock`)."""

    catalog: Catalog
    trending: Trending
    states: StateStore[UserState]
    bundle: ModelBundle
    time: EngineClock = field(default_factory=EngineClock)

    @property
    def clock(self) -> float:
        """Now, in unix seconds: the wall clock, or the latest accepted event time."""
        return self.time.now()
