"""Event types: the built-in ones (:class:`~shoprec.data.records.EventType`) and those a shop
declares in ``SHOPREC_EVENT_TYPES`` ("wishlist", "like", "rating", ...), each with a weight and a
role. Every place that treats events by type asks the role here, never the name, so a declared
type is folded, counted and exported like the built-ins of its role.

Roles:

- ``positive``: "I want this item": the shopper's recent and session items, interest tags
  (+weight), trending (+weight), the training export (like view, click, add to cart, review).
- ``purchase``: positive, and the item is bought: never recommended to the shopper again,
  credited to experiments as a purchase (with revenue), the assistant's purchases.
- ``negative``: "not this": interest tags lose the weight; not a recent item, not trending, not
  exported for training.
- ``neutral``: stored and counted, nothing else; trending +weight where it names an item (like
  search).

The declared types are process-wide, set once at start-up (:func:`configure`, from the
settings), because the stores, the readers and the request schemas all parse types.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from shoprec.data.records import EVENT_WEIGHTS, EventType

Role = Literal["positive", "purchase", "negative", "neutral"]
ROLES: tuple[str, ...] = get_args(Role)
#: Roles whose events say something good about the item (recent items, export, trending).
ITEM_ROLES = frozenset({"positive", "purchase"})
#: What a declared type's name may look like (it is stored in the log and sent by shops).
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

#: The built-in types' roles; a built-in missing here (added later) is neutral.
BUILT_IN_ROLES: dict[EventType, Role] = {
    EventType.VIEW: "positive",
    EventType.CLICK: "positive",
    EventType.ADD_TO_CART: "positive",
    EventType.PURCHASE: "purchase",
    EventType.REVIEW: "positive",
    EventType.SEARCH: "neutral",
    EventType.IMPRESSION: "neutral",  # shown, not wanted (weight 0)
}


@dataclass(frozen=True, slots=True)
class EventKind:
    """A declared event type: its weight (>= 0; a negative role subtracts it) and role."""

    weight: float
    role: Role


_declared: dict[str, EventKind] = {}


def configure(declared: Mapping[str, tuple[float, str]] | None) -> None:
    """Declare the shop's own types (``name -> (weight, role)``), replacing any declared before;
    ``None`` or empty: the built-ins only.

    Raises
    ------
    ValueError
        A name that is a built-in type or not ``[a-z][a-z0-9_]*``, an unknown role, or a weight
        that is negative or not finite.
    """
    kinds: dict[str, EventKind] = {}
    for name, (weight, role) in (declared or {}).items():
        if name in EventType._value2member_map_:
            raise ValueError(f"event type {name!r} is built in; declare a new name")
        if not NAME.match(name):
            raise ValueError(f"event type {name!r}: use lowercase letters, digits and _")
        if role not in ROLES:
            raise ValueError(f"event type {name!r}: role {role!r} is not one of {list(ROLES)}")
        if not 0 <= float(weight) < float("inf"):
            raise ValueError(f"event type {name!r}: weight must be a finite number >= 0")
        kinds[name] = EventKind(float(weight), role)  # type: ignore[arg-type]
    _declared.clear()
    _declared.update(kinds)


def declared() -> dict[str, EventKind]:
    """The shop's declared types (a copy)."""
    return dict(_declared)


def is_declared(name: str) -> bool:
    """Whether ``name`` is one of the shop's declared types."""
    return name in _declared


def needs_item(t: EventType | str, built_in: Collection[str]) -> bool:
    """Whether an event of type ``t`` must name an item: the built-ins in ``built_in``, and
    every declared type but a neutral one (a shop's ``login`` event names no item)."""
    if t in built_in:
        return True
    kind = _declared.get(t)
    return kind is not None and kind.role != "neutral"


def known() -> list[str]:
    """Every accepted type name, sorted."""
    return sorted([t.value for t in EventType] + list(_declared))


def parse(name: str) -> EventType | str:
    """The type named ``name``: the built-in member, or the declared name.

    Raises
    ------
    ValueError
        ``name`` is neither; the message lists the known types.
    """
    if isinstance(name, EventType):
        return name
    member = EventType._value2member_map_.get(name)
    if member is not None:
        return member  # type: ignore[return-value]
    if name in _declared:
        return name
    raise ValueError(f"unknown event type {name!r}; known types: {', '.join(known())}")


def stored(name: str) -> EventType | str:
    """Like :func:`parse`, for types read back from the event log: a type no longer declared
    is kept as its name (neutral) rather than refused, so the log always replays."""
    member = EventType._value2member_map_.get(name)
    return member if member is not None else str(name)  # type: ignore[return-value]


def role(t: EventType | str) -> Role:
    """The role of type ``t`` (a type no longer declared is neutral)."""
    if isinstance(t, EventType):
        return BUILT_IN_ROLES.get(t, "neutral")
    kind = _declared.get(t)
    if kind is not None:
        return kind.role
    member = EventType._value2member_map_.get(t)
    return BUILT_IN_ROLES.get(member, "neutral") if member is not None else "neutral"  # type: ignore[call-overload]


def weight(t: EventType | str) -> float:
    """The weight of type ``t``: :data:`EVENT_WEIGHTS` for built-ins, else the declared one
    (0 for a type no longer declared)."""
    member = t if isinstance(t, EventType) else EventType._value2member_map_.get(t)
    if member is not None:
        return EVENT_WEIGHTS.get(member, 0.0)  # type: ignore[call-overload]
    kind = _declared.get(t)
    return kind.weight if kind is not None else 0.0


def trending_weight(t: EventType | str) -> float:
    """What an event of type ``t`` adds to its item's trending count: its weight, 0 for a
    negative role ("not this" is no demand)."""
    return 0.0 if role(t) == "negative" else weight(t)


def is_purchase(t: EventType | str) -> bool:
    return role(t) == "purchase"


def is_item_signal(t: EventType | str) -> bool:
    """Whether ``t`` says the shopper wants the item (a positive or purchase role)."""
    return role(t) in ITEM_ROLES
