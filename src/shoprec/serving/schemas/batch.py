"""Schemas of the batch feed route (``POST /v1/recommendations/batch``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shoprec.serving.schemas.common import UserId

#: Mirrors :data:`shoprec.serving.batch.MAX_USERS` (schemas import no serving module).
MAX_USERS = 10_000


class BatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"user_ids": ["A1", "A2"], "n": 10}]},
    )
    user_ids: list[UserId] = Field(
        min_length=1,
        max_length=MAX_USERS,
        description="The shoppers, at most 10,000; one answer line each, in this order.",
    )
    n: int = Field(default=20, ge=1, le=100, description="Items per shopper.")
