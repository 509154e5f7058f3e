"""The engine's clock: "now" for interest decay, trending and new arrivals, and the window of
event times the engine accepts around it.

Two modes (``SHOPREC_CLOCK``):

- ``wall``, a live shop: now is the wall clock; no event moves it.
- ``data``, a historic dataset served or replayed (the demo, benchmarks): now is the latest
  accepted event time (0 before the first), so decay and trending read the data's own time.

Either way an event is accepted only when its time lies in ``[now - retention, now + skew]``
(``SHOPREC_RETAIN_DAYS``, unset = no lower bound; ``SHOPREC_MAX_FUTURE_SKEW_S``, by default
300 s under the wall clock and a day under the data clock): one event from the far future can
no longer drag every shopper's interests and the trending counts to zero. Under the data clock
with no event yet, the bound is taken from the wall clock. Events read back from a log (the
start-up replay, a follower) are never refused, they are stored already: those beyond the wall
clock plus the skew (written by older code, which accepted any time) are left out of the clock
and trending, logged and counted (``ignored``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from fastapi.exceptions import RequestValidationError

from shoprec.data.records import Event
from shoprec.settings import Settings

log = logging.getLogger(__name__)

Mode = Literal["wall", "data"]
#: ``SHOPREC_MAX_FUTURE_SKEW_S`` when unset, per mode: a live shop's senders' clocks are off by
#: seconds; a replayed history moves a day at a time.
DEFAULT_SKEW_S: dict[str, float] = {"wall": 300.0, "data": 86_400.0}
DAY_S = 86_400.0


class OutOfWindow(ValueError):
    """An event time the clock refuses: ``index`` is the event's position in its batch."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index

    def invalid(self, *loc: str | int) -> RequestValidationError:
        """The 422 a route answers, naming the field at ``loc`` (``"events", index,
        "timestamp"``), in the body every validation error has."""
        error = {"loc": ("body", *loc), "msg": str(self), "type": "out_of_window"}
        return RequestValidationError([error])


def resolve_mode(setting: str, historic: bool) -> Mode:
    """The clock's mode for ``SHOPREC_CLOCK`` = ``setting``: ``auto`` is ``data`` when a
    historic dataset is served (``shoprec serve --dataset``), else ``wall``."""
    if setting == "auto":
        return "data" if historic else "wall"
    if setting not in ("wall", "data"):
        raise ValueError(f"clock must be auto, wall or data, got {setting!r}")
    return "wall" if setting == "wall" else "data"


@dataclass
class EngineClock:
    """Parameters
    ----------
    mode : ``wall`` or ``data`` (module doc).
    skew_s : how far ahead of now an event may be (None: the mode's default).
    retain_s : how far behind now an event may be (None: no bound).
    wall : the wall clock (tests pass their own).
    """

    mode: Mode = "data"
    skew_s: float | None = None
    retain_s: float | None = None
    wall: Callable[[], float] = time.time
    #: data mode: the latest accepted event time (0 before the first)
    latest: float = 0.0
    #: events read back from a log whose time was beyond the window, left out of the clock
    ignored: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def skew(self) -> float:
        """How far ahead of now an event may be, in seconds."""
        return DEFAULT_SKEW_S[self.mode] if self.skew_s is None else self.skew_s

    @classmethod
    def from_settings(cls, settings: Settings, historic: bool) -> EngineClock:
        """The clock ``settings`` ask for; ``historic``: a dataset is served (``auto``)."""
        retain = settings.retain_days * DAY_S if settings.retain_days is not None else None
        mode = resolve_mode(settings.clock, historic)
        return cls(mode, settings.max_future_skew_s, retain)

    def now(self) -> float:
        """Now for decay, trending and new arrivals."""
        return self.wall() if self.mode == "wall" else self.latest

    def stamp(self) -> float:
        """The time of an event sent without one: now (under the data clock before any event:
        the wall clock)."""
        return self.wall() if self.mode == "wall" else (self.latest or self.wall())

    def window(self) -> tuple[float, float]:
        """``(lowest, highest)`` event time accepted now."""
        ref = self.stamp()
        low = ref - self.retain_s if self.retain_s is not None else -math.inf
        return low, ref + self.skew

    def check(self, events: Sequence[Event]) -> None:
        """Raise :class:`OutOfWindow` for the first event outside :meth:`window` (the route
        names the field)."""
        low, high = self.window()
        skew = self.skew
        for k, e in enumerate(events):
            if e.timestamp > high:
                raise OutOfWindow(
                    k,
                    f"{e.timestamp:.0f} is {e.timestamp - high + skew:.0f} s ahead of the "
                    f"engine's {self.mode} clock; at most {skew:.0f} s ahead is accepted "
                    "(SHOPREC_MAX_FUTURE_SKEW_S)",
                )
            if e.timestamp < low:
                raise OutOfWindow(
                    k,
                    f"{e.timestamp:.0f} is older than the retention window of the engine's "
                    f"{self.mode} clock (SHOPREC_RETAIN_DAYS: from {low:.0f} on)",
                )

    def accepted(self, events: Sequence[Event]) -> None:
        """Events just accepted (checked by :meth:`check`): the data clock follows them."""
        if self.mode == "data" and events:
            with self._lock:
                self.latest = max(self.latest, max(e.timestamp for e in events))

    def stored(self, events: Sequence[Event]) -> list[Event]:
        """Events read back from a log (the replay, a follower, the shared stream): those
        within the wall clock plus the skew, which move the data clock; the others (stored by
        code that accepted any time) are counted in :attr:`ignored`, logged, and left out."""
        high = self.wall() + self.skew
        kept = [e for e in events if e.timestamp <= high]
        if len(kept) < len(events):
            n = len(events) - len(kept)
            self.ignored += n
            worst = max(e.timestamp for e in events)
            log.warning(
                "%d stored event(s) timed beyond now + %.0f s (latest %.0f) left out of the clock"
                " and trending",
                n,
                self.skew,
                worst,
            )
        self.accepted(kept)
        return kept
