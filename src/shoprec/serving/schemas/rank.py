"""Schemas of ``POST /v1/rank``: a caller's list (a category page, third-party search results)
re-ranked for one shopper."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shoprec.serving.schemas.common import Id, ListAnswer, RecommendedItem, UserId, not_bool

#: The longest list one call re-ranks.
MAX_RANK_ITEMS = 1000


class RankContext(BaseModel):
    """Where the list is shown, as far as it changes the order."""

    model_config = ConfigDict(extra="forbid")
    keep_bought: bool = Field(
        default=False,
        description="Rank items the shopper bought with the others (default: after them).",
    )
    keep_out_of_stock: bool = Field(
        default=False,
        description="Rank out-of-stock items with the others (default: after them).",
    )


class RankIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user_id": "u00001", "items": ["P00001", "P00114", "P00377"], "n": 3}],
            # the shopper: user_id or session_id, a string (the validator below says so too)
            "anyOf": [
                {"required": [k], "properties": {k: {"type": "string"}}}
                for k in ("user_id", "session_id")
            ],
        },
    )
    user_id: UserId | None = Field(default=None, description="The shopper (or `session_id`).")
    session_id: Id | None = Field(
        default=None, description="An anonymous session's shopper (used when given)."
    )
    items: list[Id] = Field(
        min_length=1,
        max_length=MAX_RANK_ITEMS,
        description="The item ids to re-rank, 1 to 1,000; a repeated id is ranked once.",
    )
    context: RankContext = Field(default_factory=RankContext)
    n: Annotated[int | None, BeforeValidator(not_bool)] = Field(
        default=None,
        ge=1,
        le=MAX_RANK_ITEMS,
        description="Answer only the first `n` (default: the whole list).",
    )

    @model_validator(mode="after")
    def _shopper(self) -> Self:
        if self.user_id is None and self.session_id is None:
            raise ValueError("user_id or session_id is required")
        return self


class DemotedOut(BaseModel):
    bought: list[str] = Field(default_factory=list, description="Bought by the shopper before.")
    out_of_stock: list[str] = Field(default_factory=list)
    blocked: list[str] = Field(
        default_factory=list, description="Blocked by a business rule (`/v1/rules`)."
    )


class RankOut(ListAnswer):
    user_id: str | None
    session_id: str | None
    items: list[RecommendedItem] = Field(
        description="The known items ranked, then the demoted ones, then the unknown ones."
    )
    unknown: list[str] = Field(
        description="Ids not in the catalog: kept at the end of `items`, in the order given."
    )
    duplicates: list[str] = Field(description="Ids given more than once (ranked once).")
    demoted: DemotedOut = Field(description="Items moved after the ranked ones, and why.")
    fallback: str | None = Field(description="Why the list was not personalised, or null.")
