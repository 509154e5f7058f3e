"""Business rules as data: pin, boost, bury or block items by item id, category, brand or
attribute, each with an optional time window, applied in the pipeline's re-rank.

- **pin**: one item at a fixed position of every list it may appear in (the caller's filters,
  stock and the shopper's purchases still rule it out).
- **boost** / **bury**: the candidates a rule matches gain or lose ``strength`` times the
  span of the candidates' relevance before the re-rank (the same currency as the pipeline's
  own bonuses), so they rise or sink but still compete.
- **block**: matching items never appear, neither ranked nor as fill.

Pinned and boosted items lead their reasons with "Featured" (the shop chose them, not the
shopper's signals). The rule set is one record of a :class:`~shoprec.store.protocols.StateStore`
(the embedded SQLite file, or Redis shared by every worker): every process re-reads it when
its token changed, checked at most every :data:`REFRESH_S`. Windows are wall-clock times.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shoprec.ranking.catalog import Catalog
from shoprec.store.errors import StoreUnavailable
from shoprec.store.protocols import StateStore

ACTIONS = ("pin", "boost", "bury", "block")
TARGETS = ("item", "category", "brand", "attribute")
#: The reason that leads a pinned or boosted item's reasons.
FEATURED = "Featured"
#: Seconds between two checks for rules another process changed.
REFRESH_S = 0.5
#: Rules one shop may hold (each is matched against the catalog when the set changes).
MAX_RULES = 500
KEY = "rules"


class RuleError(ValueError):
    """A rule that cannot apply; ``field`` names the offending field of the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Rule:
    """One rule. ``target`` is what ``value`` names (for ``attribute``, ``attribute`` is the
    attribute's name); ``position`` (1-based) only for pins; ``strength`` only for boosts and
    buries; ``start`` / ``end`` unix seconds (None: open)."""

    rule_id: str
    action: str
    target: str
    value: str
    attribute: str | None = None
    position: int | None = None
    strength: float | None = None
    start: float | None = None
    end: float | None = None
    note: str = ""
    created_at: float = 0.0

    def active(self, now: float) -> bool:
        return (self.start is None or self.start <= now) and (self.end is None or now < self.end)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def matches(rule: Rule, catalog: Catalog, n_rows: int) -> np.ndarray:
    """``(n_rows,)`` bool: the catalog rows ``rule`` names (category names as the feed's
    category filter reads them; brands and attribute values case-insensitively)."""
    mask = np.zeros(n_rows, bool)
    if rule.target == "item":
        idx = catalog.get(rule.value)
        if 0 < idx < n_rows:
            mask[idx] = True
    elif rule.target == "category":
        mask |= catalog.in_category(rule.value, n_rows)
    else:
        want = rule.value.casefold()
        items = catalog.items[:n_rows]
        if rule.target == "brand":
            hit = [k for k, it in enumerate(items) if it and it.brand.casefold() == want]
        else:
            name = rule.attribute or ""
            hit = [
                k
                for k, it in enumerate(items)
                if it and str(it.attributes.get(name, "")).casefold() == want
            ]
        mask[hit] = True
    mask[0] = False
    return mask


def check(rule: Rule, catalog: Catalog, now: float) -> None:
    """Raise :class:`RuleError` naming the field when ``rule`` cannot apply: a pin of anything
    but one item or without a position, a position or strength on an action without one, a
    window that ends before it starts or is over, a target no item matches."""
    if rule.action not in ACTIONS:
        raise RuleError("action", f"must be one of {', '.join(ACTIONS)}")
    if rule.target not in TARGETS:
        raise RuleError("target.type", f"must be one of {', '.join(TARGETS)}")
    if rule.action == "pin":
        if rule.target != "item":
            raise RuleError("target.type", "a pin places one item: target.type must be item")
        if rule.position is None:
            raise RuleError("position", "a pin needs a position (1 = first)")
    elif rule.position is not None:
        raise RuleError("position", f"only pins have a position, not {rule.action}")
    if rule.strength is not None and rule.action not in ("boost", "bury"):
        raise RuleError("strength", f"only boosts and buries have a strength, not {rule.action}")
    if rule.target == "attribute" and not rule.attribute:
        raise RuleError("target.name", "an attribute target needs the attribute's name")
    if rule.target != "attribute" and rule.attribute:
        raise RuleError("target.name", "only an attribute target has a name")
    if rule.start is not None and rule.end is not None and rule.end <= rule.start:
        raise RuleError("end", "must be after start")
    if rule.end is not None and rule.end <= now:
        raise RuleError("end", "is in the past: the rule would never apply")
    if not matches(rule, catalog, len(catalog) + 1).any():
        what = f"{rule.attribute}={rule.value}" if rule.target == "attribute" else rule.value
        raise RuleError("target.value", f"no item in the catalog matches {rule.target} {what!r}")


@dataclass(frozen=True)
class Applied:
    """The rules active for a request, compiled against the catalog's first ``n_rows`` rows:
    ``blocked`` and ``featured`` (boosted) bool masks, ``shift`` the boosts' and buries'
    summed strengths (None when a kind is absent), ``pins`` ``(row, 0-based position)`` by
    position."""

    blocked: np.ndarray | None
    shift: np.ndarray | None
    featured: np.ndarray | None
    pins: tuple[tuple[int, int], ...]

    def allow(self, ok: np.ndarray | None, n_rows: int) -> np.ndarray | None:
        """``ok`` (a ``(n_rows,)`` mask or None: all) without the blocked rows."""
        if self.blocked is None:
            return ok
        free = ~self.blocked[:n_rows]
        return free if ok is None else ok & free

    def is_featured(self, idx: int) -> bool:
        return self.featured is not None and bool(self.featured[idx])


def compile_rules(rules: list[Rule], catalog: Catalog, n_rows: int) -> Applied | None:
    """The :class:`Applied` of ``rules`` (None when there are none)."""
    if not rules:
        return None
    blocked = shift = featured = None
    pins: list[tuple[int, int, float]] = []
    for r in rules:
        hit = matches(r, catalog, n_rows)
        if r.action == "block":
            blocked = hit if blocked is None else blocked | hit
        elif r.action == "pin":
            pins.extend((int(i), (r.position or 1) - 1, r.created_at) for i in np.flatnonzero(hit))
        else:
            sign = 1.0 if r.action == "boost" else -1.0
            shift = np.zeros(n_rows) if shift is None else shift
            shift += sign * (r.strength if r.strength is not None else DEFAULT_STRENGTH) * hit
            if r.action == "boost":
                featured = hit if featured is None else featured | hit
    ordered = tuple((i, p) for i, p, _ in sorted(pins, key=lambda t: (t[1], t[2])))
    return Applied(blocked, shift, featured, ordered)


#: A boost's or bury's strength when the rule names none: half the candidates' score span.
DEFAULT_STRENGTH = 0.5


class RuleBook:
    """The shop's rules over a store shared by every serving process.

    Parameters
    ----------
    store : a :class:`~shoprec.store.protocols.StateStore` of JSON-able dicts.
    clock : wall-clock seconds (windows are calendar times); tests pass their own.
    refresh_s : how stale this process's view of the others' changes may get.
    """

    def __init__(
        self,
        store: StateStore[dict],
        clock: Callable[[], float] = time.time,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.store, self.clock, self.refresh_s = store, clock, refresh_s
        self.rules: list[Rule] = []
        self._token: str | None = None
        self._checked = -float("inf")
        self._compiled: tuple[tuple, Applied | None] | None = None
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> None:
        """Re-read the rules if another process changed them since (``force``: read now)."""
        if not force and time.monotonic() - self._checked < self.refresh_s:
            return
        self._checked = time.monotonic()
        try:
            rec = self.store.get(KEY)
        except StoreUnavailable:  # serve on with the rules we have; the next check retries
            return
        self._read(rec)

    def _read(self, rec: Mapping[str, Any] | None) -> None:
        token = rec["token"] if rec else ""
        if token != self._token:
            self.rules = [Rule(**r) for r in rec["rules"]] if rec else []
            self._token = token

    def list(self) -> list[Rule]:
        self.refresh(force=True)
        return list(self.rules)

    def create(self, rule: Rule, catalog: Catalog) -> Rule:
        """Store ``rule`` (a fresh id and creation time; :func:`check` first)."""
        now = self.clock()
        rule = Rule(**{**rule.to_dict(), "rule_id": uuid.uuid4().hex[:16], "created_at": now})
        check(rule, catalog, now)

        def add(old: dict | None) -> tuple[dict, dict]:
            rules = list(old["rules"]) if old else []
            if len(rules) >= MAX_RULES:
                raise RuleError("action", f"at most {MAX_RULES} rules: delete some first")
            return {"rules": [*rules, rule.to_dict()], "token": uuid.uuid4().hex}, {}

        self._read(self.store.update(KEY, add)[1])
        return rule

    def delete(self, rule_id: str) -> bool:
        """Remove the rule ``rule_id``; False when there is none."""
        found = [False]

        def drop(old: dict | None) -> tuple[dict | None, dict]:
            rules = list(old["rules"]) if old else []
            kept = [r for r in rules if r["rule_id"] != rule_id]
            found[0] = len(kept) < len(rules)
            return {"rules": kept, "token": uuid.uuid4().hex}, {}

        self._read(self.store.update(KEY, drop)[1])
        return found[0]

    def applied(self, catalog: Catalog, n_rows: int) -> Applied | None:
        """The rules active now, compiled for a request over ``n_rows`` catalog rows; cached
        until the rules, the active set, the catalog or ``n_rows`` change."""
        self.refresh()
        if not self.rules:
            return None
        now = self.clock()
        live = [r for r in self.rules if r.active(now)]
        key = (self._token, tuple(r.rule_id for r in live), catalog.generation, n_rows)
        hit = self._compiled
        if hit is not None and hit[0] == key:
            return hit[1]
        with self._lock:  # one compile per change, however many requests arrive meanwhile
            hit = self._compiled
            if hit is None or hit[0] != key:
                hit = self._compiled = (key, compile_rules(live, catalog, n_rows))
        return hit[1]


def place_pins(
    rows: list[int],
    pins: tuple[tuple[int, int], ...],
    usable: Callable[[np.ndarray], np.ndarray],
    n: int,
) -> list[int]:
    """``rows`` (a list, best first) with every pinned row that ``usable`` admits at its
    0-based position (or last, when the list is shorter), cut to ``n``. The pinned rows leave
    their old places first, then go in by position, so each lands exactly where it is pinned."""
    want = np.fromiter((i for i, _ in pins), np.int64, len(pins))
    ok = usable(want).tolist() if len(want) else []
    first: dict[int, int] = {}  # an item pinned twice goes where its first pin says
    for (i, p), good in zip(pins, ok, strict=True):
        if good:
            first.setdefault(i, p)
    placed = sorted(first.items(), key=lambda t: t[1])
    moving = set(first)
    out = [r for r in rows if r not in moving]
    for i, p in placed:
        out.insert(min(p, len(out)), i)
    return out[:n]
