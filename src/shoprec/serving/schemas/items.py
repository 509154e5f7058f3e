"""Schemas of the catalog routes (``/v1/items``)."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from shoprec.data.records import Item
from shoprec.serving.schemas.common import MAX_BATCH, Id, ListAnswer, RecommendedItem, not_bool


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Id
    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20_000)
    category: list[Annotated[str, Field(min_length=1, max_length=200)]] | str = Field(
        default_factory=list, description="Broad to narrow, as a list or 'A > B'."
    )
    brand: str = Field(default="", max_length=200)
    price: float | None = Field(default=None, ge=0, le=1e9)
    in_stock: StrictBool = True
    attributes: dict[str, Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict)

    _numbers = field_validator("price", mode="before")(not_bool)

    @field_validator("price")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    def to_item(self) -> Item:
        cat = self.category
        path = (
            tuple(p.strip() for p in cat.split(">") if p.strip())
            if isinstance(cat, str)
            else (tuple(cat))
        )
        return Item(
            item_id=self.item_id,
            title=self.title,
            description=self.description,
            category=path,
            brand=self.brand,
            price=self.price,
            in_stock=self.in_stock,
            attributes=dict(self.attributes),
        )


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ItemIn] = Field(
        min_length=1, max_length=MAX_BATCH, description="One row per item_id (422 otherwise)."
    )

    @field_validator("items")
    @classmethod
    def _one_row_per_item(cls, v: list[ItemIn]) -> list[ItemIn]:
        # two rows for one id would leave it unclear which wins, and miscount `new`
        first: dict[str, int] = {}
        for k, it in enumerate(v):
            j = first.setdefault(it.item_id, k)
            if j != k:
                raise ValueError(f"items {j} and {k} have the same item_id {it.item_id!r}")
        return v


class ItemsOut(BaseModel):
    upserted: int
    new: int


class ItemOut(BaseModel):
    item_id: str
    title: str
    description: str
    category: list[str]
    brand: str
    price: float | None
    in_stock: bool
    tags: list[str] = Field(description="Derived tags (category, department, price band)")
    derived_category: str | None = Field(description="Zero-shot category when none was given")


class SimilarOut(ListAnswer):
    item_id: str
    items: list[RecommendedItem]
