"""A generated shop (:class:`SyntheticStore`) and its shoppers' tastes, with the views every
consumer takes of it: an interaction table, :class:`SequenceData`, a shop export folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shoprec.data.interactions import SequenceData
from shoprec.data.records import Event, EventType, Item, Review
from shoprec.data.sequences import build_sequence_data

log = logging.getLogger(__name__)

#: Event types that count as an interaction with an item (a sequence step).
INTERACTION_TYPES = (EventType.VIEW, EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE)


@dataclass(frozen=True)
class ShopperTaste:
    """A synthetic shopper's latent taste: preferred categories, favourite brand, price band."""

    user_id: str
    categories: tuple[str, ...]
    brand: str
    price_band: str


@dataclass
class SyntheticStore:
    """A generated shop: catalog, shoppers' tastes, events (time-ordered per user) and reviews.

    ``quality[i]`` (float64) is the latent quality of ``catalog[i]``; ratings follow it.
    """

    catalog: list[Item]
    users: list[ShopperTaste]
    events: list[Event]
    reviews: list[Review]
    quality: np.ndarray
    seed: int

    def interactions(self) -> pd.DataFrame:
        """Item interactions (view, click, add_to_cart, purchase): ``user_id, item_id,
        timestamp, type``, sorted by user then time (repeats of an item kept)."""
        kinds = {t.value for t in INTERACTION_TYPES}
        rows = [
            (e.user_id, e.item_id, e.timestamp, str(e.type)) for e in self.events if e.type in kinds
        ]
        return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "type"])

    def to_sequence_data(self) -> SequenceData:
        """One sequence per user: the items they interacted with, in order of first interaction.

        Views, clicks, carts and purchases all count; later repeats of an item are dropped so
        that a leave-one-out target is never already in the user's history. Internal item ids
        follow catalog order, internal user ids follow ``users``.
        """
        inter = self.interactions().drop_duplicates(["user_id", "item_id"], keep="first")
        return build_sequence_data(inter.reset_index(drop=True), self.catalog, name="synthetic")

    def write(self, folder: Path) -> Path:
        """Write a shop export: ``items.csv``, ``interactions.csv``, ``events.csv`` (every event
        with its query, text and rating) and ``reviews.csv``. Returns ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "item_id": [it.item_id for it in self.catalog],
                "title": [it.title for it in self.catalog],
                "description": [it.description for it in self.catalog],
                "category": [" > ".join(it.category) for it in self.catalog],
                "brand": [it.brand for it in self.catalog],
                "price": [f"{it.price:.2f}" for it in self.catalog],
                "in_stock": ["true" if it.in_stock else "false" for it in self.catalog],
            }
        ).to_csv(folder / "items.csv", index=False)
        inter = self.interactions()
        inter["timestamp"] = inter["timestamp"].astype(np.int64)
        inter.to_csv(folder / "interactions.csv", index=False)
        pd.DataFrame(
            [
                {
                    "event_id": e.event_id,
                    "session_id": e.session_id,
                    "user_id": e.user_id,
                    "item_id": e.item_id,
                    "timestamp": int(e.timestamp),
                    "type": str(e.type),
                    "query": e.query or "",
                    "text": e.text or "",
                    "rating": "" if e.rating is None else int(e.rating),
                }
                for e in self.events
            ]
        ).to_csv(folder / "events.csv", index=False)
        pd.DataFrame(
            [
                {
                    "review_id": r.review_id,
                    "item_id": r.item_id,
                    "user_id": r.user_id,
                    "rating": int(r.rating or 0),
                    "timestamp": int(r.timestamp or 0),
                    "text": r.text,
                }
                for r in self.reviews
            ]
        ).to_csv(folder / "reviews.csv", index=False)
        log.info(
            "wrote synthetic shop (%d items, %d events) to %s",
            len(self.catalog),
            len(self.events),
            folder,
        )
        return folder
