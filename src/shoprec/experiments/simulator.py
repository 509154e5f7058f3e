"""Simulated shoppers whose choices follow held-out Amazon Beauty behaviour.

Each simulated shopper is a Beauty user whose history (every item but the last) is in the
engine; the last item is held out. Shown a list, the shopper examines position ``k`` with
probability ``1 / log2(k + 2)`` and clicks an examined item with probability equal to its
relevance: 1 for the held-out next item, ``similar_weight`` scaled by text similarity for
items whose title vector is close to it, else 0. A click leads to the cart, and the cart to a
purchase, with fixed probabilities scaled by the same relevance. Because the model is known,
so is each strategy's true expected value (:meth:`BeautyShoppers.expected`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoprec.data.interactions import SequenceData
from shoprec.data.records import Event, EventType


@dataclass(frozen=True)
class ShopperModel:
    """How simulated shoppers react.

    Attributes
    ----------
    similar_from : text cosine to the held-out item below which an item is irrelevant.
    similar_weight : relevance of an item identical in text to the held-out one (< 1).
    cart_given_click, buy_given_cart : funnel probabilities, times the item's relevance.
    """

    similar_from: float = 0.6
    similar_weight: float = 0.3
    cart_given_click: float = 0.7
    buy_given_cart: float = 0.7


@dataclass
class Response:
    """Catalog indices the shopper clicked, carted and bought."""

    clicks: list[int]
    carts: list[int]
    purchases: list[int]


def history_events(data: SequenceData, users: np.ndarray | None = None) -> list[Event]:
    """Every user's sequence but its last item, as purchase events with stable ids."""
    names, items = data.users.to_list(), data.items.to_list()
    out = []
    for u in range(len(data.sequences)) if users is None else users.tolist():
        seq = data.sequences[u]
        ts = data.timestamps[u] if data.timestamps is not None else np.arange(len(seq), dtype=float)
        for k in range(len(seq) - 1):
            item = items[int(seq[k]) - 1]
            out.append(Event(names[u], item, EventType.PURCHASE, float(ts[k]), f"sim:{u}:{k}"))
    return out


class BeautyShoppers:
    """Simulated shoppers over a served catalog.

    Parameters
    ----------
    user_ids : external id of each shopper.
    target : ``(U,)`` catalog index of each shopper's held-out next item (0: not in catalog).
    vectors : ``(N + 1, D)`` unit text vectors by catalog index.
    """

    def __init__(
        self,
        user_ids: list[str],
        target: np.ndarray,
        vectors: np.ndarray,
        model: ShopperModel | None = None,
    ) -> None:
        self.model = model or ShopperModel()
        self.user_ids, self.target, self.vectors = user_ids, target, vectors

    @classmethod
    def from_data(
        cls,
        data: SequenceData,
        item_index: dict[str, int],
        vectors: np.ndarray,
        model: ShopperModel | None = None,
    ) -> BeautyShoppers:
        """Every user of ``data``; ``item_index`` maps item ids to the engine's catalog."""
        items = data.items.to_list()
        target = np.array(
            [item_index.get(items[int(s[-1]) - 1], 0) for s in data.sequences], np.int64
        )
        return cls(data.users.to_list(), target, vectors, model)

    def relevance(self, user: int, shown: np.ndarray) -> np.ndarray:
        """``(L,)`` click probability of each shown item once examined."""
        m, t = self.model, int(self.target[user])
        if not t or not len(shown):
            return np.zeros(len(shown))
        cos = self.vectors[shown] @ self.vectors[t]
        rel = m.similar_weight * np.clip((cos - m.similar_from) / (1 - m.similar_from), 0, 1)
        return np.where(shown == t, 1.0, rel)

    @staticmethod
    def examination(n: int) -> np.ndarray:
        return 1.0 / np.log2(np.arange(n) + 2.0)

    def expected(self, user: int, shown: np.ndarray) -> dict[str, float]:
        """The exact expected clicks, purchases and conversion probability of one list."""
        rel = self.relevance(user, shown)
        click = self.examination(len(shown)) * rel
        buy = click * rel * self.model.cart_given_click * rel * self.model.buy_given_cart
        return {
            "clicks": float(click.sum()),
            "purchases": float(buy.sum()),
            "conversion": float(1.0 - np.prod(1.0 - buy)),
        }

    def respond(self, user: int, shown: np.ndarray, rng: np.random.Generator) -> Response:
        """One random reaction to a list ``shown`` (catalog indices, top first)."""
        rel = self.relevance(user, shown)
        clicked = rng.random(len(shown)) < self.examination(len(shown)) * rel
        carted = clicked & (rng.random(len(shown)) < rel * self.model.cart_given_click)
        bought = carted & (rng.random(len(shown)) < rel * self.model.buy_given_cart)
        return Response(shown[clicked].tolist(), shown[carted].tolist(), shown[bought].tolist())
