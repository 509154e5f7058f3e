"""What every job of the engine reads and its writers update: the live catalog, the trending
counts, the shoppers' states, the served model bundle and the clock. One object shared by
reference, so a swapped bundle or an advanced clock is seen by every job at once."""

from __future__ import annotations

from dataclasses import dataclass

from shoprec.online.state import UserState
from shoprec.online.trending import Trending
from shoprec.ranking.bundle import ModelBundle
from shoprec.ranking.catalog import Catalog
from shoprec.store.protocols import StateStore


@dataclass
class Live:
    """``bundle`` is swapped whole (hot reload, catalog growth: a request keeps the one it
    read); ``clock`` is the latest event time seen, "now" for trending and new arrivals."""

    catalog: Catalog
    trending: Trending
    states: StateStore[UserState]
    bundle: ModelBundle
    clock: float = 0.0
