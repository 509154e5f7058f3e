"""Schemas of the shopper routes: recommendations, profile, feedback, export and erasure."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shoprec.serving.schemas.common import MAX_BATCH, Id, RecommendedItem


class RecommendationsOut(BaseModel):
    user_id: str
    items: list[RecommendedItem]
    fallback: str | None = Field(description="Why a fallback answered, or null.")
    strategy: str = "default"
    experiment: str | None = Field(default=None, description="The experiment serving this list.")
    variant: str | None = Field(default=None, description="Its variant for this shopper.")
    request_id: str | None = Field(
        default=None, description="Exploration traffic: name it in /v1/feedback."
    )


class StoredEvent(BaseModel):
    user_id: str
    item_id: str
    type: str
    timestamp: float
    event_id: str | None
    session_id: str | None
    query: str | None
    text: str | None
    rating: float | None


class UserExportOut(BaseModel):
    user_id: str
    events: list[StoredEvent] = Field(description="Every stored event, in append order")
    state: dict | None = Field(description="The online state (profile), or null")


class TagWeight(BaseModel):
    tag: str
    weight: float


class RecentItem(BaseModel):
    item_id: str
    timestamp: float
    type: str


class ProfileOut(BaseModel):
    user_id: str
    interests: list[TagWeight]
    recent: list[RecentItem]
    bought: list[str]
    session_id: str | None
    n_events: int


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [k], "properties": {k: {"minItems": 1}}}
                for k in ("impressions", "clicks")
            ]
        },
    )
    user_id: Id
    impressions: list[Id] = Field(default_factory=list, max_length=MAX_BATCH)
    clicks: list[Id] = Field(default_factory=list, max_length=MAX_BATCH)
    request_id: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.impressions and not self.clicks:
            raise ValueError("impressions or clicks must be non-empty")
        return self


class FeedbackOut(BaseModel):
    impressions: int
    clicks: int


class DeletedOut(BaseModel):
    user_id: str
    events_deleted: int
