"""Schemas of the business rules routes (``/v1/rules``): what a rule names and does, and its
time window. Whether a rule can apply (a pin names one item, a window ends after it starts,
the target matches an item) is checked against the catalog by the route, a 422 naming the
field as well."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["pin", "boost", "bury", "block"]
TargetType = Literal["item", "category", "brand", "attribute"]


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: TargetType = Field(description="What `value` names.")
    value: str = Field(
        min_length=1,
        max_length=256,
        description="An item id, a category (as the feed's category filter reads it), a brand, "
        "or an attribute's value (case-insensitive for brands and attributes).",
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=128, description="The attribute's name."
    )


class RuleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "pin", "target": {"type": "item", "value": "B0001"}, "position": 1},
                {
                    "action": "boost",
                    "target": {"type": "brand", "value": "Acme"},
                    "strength": 0.5,
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-24T00:00:00Z",
                },
            ]
        },
    )
    action: Action = Field(
        description="pin: the item at `position` of every list it may appear in; boost / bury: "
        "matching candidates gain / lose `strength` times the span of the candidates' scores "
        "before the re-rank; block: matching items never appear."
    )
    target: Target
    position: int | None = Field(default=None, ge=1, le=100, description="Pins: 1 = first.")
    strength: float | None = Field(
        default=None, gt=0, le=10, description="Boosts and buries (default 0.5)."
    )
    start: datetime | None = Field(
        default=None, description="From when the rule applies (ISO 8601 or unix seconds)."
    )
    end: datetime | None = Field(default=None, description="Until when (excluded).")
    note: str = Field(default="", max_length=500, description="Why the rule exists.")


class RuleOut(BaseModel):
    rule_id: str
    action: Action
    target: Target
    position: int | None
    strength: float | None
    start: datetime | None
    end: datetime | None
    note: str
    created_at: datetime
    active: bool = Field(description="Whether the rule applies now (inside its window).")


class RulesOut(BaseModel):
    rules: list[RuleOut]


class RuleDeletedOut(BaseModel):
    rule_id: str
    deleted: bool
