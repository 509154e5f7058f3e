"""Schemas of ``GET /v1/search`` and ``POST /v1/assistant``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shoprec.serving.schemas.common import CitationOut, ListAnswer, RecommendedItem


class SearchOut(ListAnswer):
    query: str
    user_id: str | None
    items: list[RecommendedItem]


class AssistantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # documented as "has a non-blank character" (Python's \s is str.isspace, as in strip)
    question: str = Field(min_length=1, max_length=2000, json_schema_extra={"pattern": r"\S"})
    user_id: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class Product(BaseModel):
    item_id: str
    reasons: list[str]


class AssistantOut(BaseModel):
    answer: str
    intent: str = Field(description="need, product or order")
    products: list[Product]
    citations: list[CitationOut]
    constraints: dict
