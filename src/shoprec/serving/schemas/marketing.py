"""Schemas of the marketing routes: ``/v1/audiences`` and ``/v1/messages``."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shoprec.serving.schemas.common import MAX_BATCH, CitationOut, Id, not_bool


class AudienceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [  # exactly one target
                {
                    "required": ["category"],
                    "properties": {"category": {"type": "string"}, "item_ids": {"maxItems": 0}},
                },
                {
                    "required": ["item_ids"],
                    "properties": {"item_ids": {"minItems": 1}, "category": {"type": "null"}},
                },
            ]
        },
    )
    category: str | None = Field(default=None, min_length=1, max_length=200)
    item_ids: list[Id] = Field(default_factory=list, max_length=MAX_BATCH)
    n: int = Field(default=100, ge=1, le=10_000)

    _numbers = field_validator("n", mode="before")(not_bool)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if bool(self.category) == bool(self.item_ids):
            raise ValueError("give exactly one of category or item_ids")
        return self


class AudienceMember(BaseModel):
    user_id: str
    score: float = Field(description="Probability that the shopper's next item is in the target")


class AudienceOut(BaseModel):
    target_items: int
    users: list[AudienceMember]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    item_id: Id
    name: str | None = Field(default=None, max_length=100)


class MessageOut(BaseModel):
    user_id: str
    item_id: str
    message: str
    citations: list[CitationOut]
