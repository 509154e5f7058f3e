"""Typed records that cross the package boundary: catalog items, events and reviews."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventType(StrEnum):
    """What a shopper did."""

    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    SEARCH = "search"
    REVIEW = "review"
    #: a recommended item shown to the shopper: exposure, not interest (weight 0)
    IMPRESSION = "impression"


#: How strongly each event says "I want this item"; used to weight implicit feedback.
EVENT_WEIGHTS: dict[EventType, float] = {
    EventType.VIEW: 1.0,
    EventType.CLICK: 1.0,
    EventType.SEARCH: 0.5,
    EventType.ADD_TO_CART: 3.0,
    EventType.PURCHASE: 5.0,
    EventType.REVIEW: 4.0,
    EventType.IMPRESSION: 0.0,  # shown is not wanted: no trending, no interest
}


@dataclass(frozen=True, slots=True)
class Item:
    """A catalog entry; ``category`` is a path from broad to narrow: ``("Makeup", "Nails")``."""

    item_id: str
    title: str = ""
    description: str = ""
    category: tuple[str, ...] = ()
    brand: str = ""
    price: float | None = None
    in_stock: bool = True
    attributes: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """The text a language model reads for this item."""
        parts = [self.title]
        if self.brand:
            parts.append(f"Brand: {self.brand}.")
        if self.category:
            parts.append("Category: " + " > ".join(self.category) + ".")
        if self.description:
            parts.append(self.description)
        return " ".join(p for p in parts if p).strip()


@dataclass(frozen=True, slots=True)
class Event:
    """One user action; ``user_id`` may be empty for anonymous sessions (``session_id`` set)."""

    user_id: str
    item_id: str
    #: a built-in member, or the name of a shop-declared type (:mod:`shoprec.data.event_types`)
    type: EventType | str
    timestamp: float
    event_id: str | None = None
    session_id: str | None = None
    query: str | None = None
    text: str | None = None
    rating: float | None = None
    #: the served list (``recommendation_id`` of a list answer) this event followed, if any
    recommendation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Review:
    """A product review with its star rating (1-5) when known."""

    review_id: str
    item_id: str
    text: str
    rating: float | None = None
    user_id: str = ""
    timestamp: float | None = None
