"""Schemas of the shopper routes: recommendations, profile, feedback, export and erasure."""

from __future__ import annotations

import math
from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shoprec.data.records import Event, EventType
from shoprec.serving.schemas.common import (
    MAX_BATCH,
    Id,
    ListAnswer,
    RecommendedItem,
    not_bool,
    not_session_key,
)


class RecommendationsOut(ListAnswer):
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
    recommendation_id: str | None = None


class UserExportOut(BaseModel):
    user_id: str
    events: list[StoredEvent] = Field(description="Every stored event, in append order")
    state: dict | None = Field(description="The online state (profile), or null")
    experiments: list[dict] = Field(
        default_factory=list,
        description="Their record in each experiment: variant and attributed counts",
    )
    exploration: list[dict] = Field(
        default_factory=list,
        description="Every logged exploration request of theirs: the lists shown and feedback",
    )


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
    recommendation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The list shown (its `recommendation_id`); stored with the events.",
    )
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    timestamp: float | None = Field(
        default=None, ge=0, le=1e11, description="Unix seconds; default: when received."
    )

    _numbers = field_validator("timestamp", mode="before")(not_bool)
    _user = field_validator("user_id")(not_session_key)

    @field_validator("timestamp")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.impressions and not self.clicks:
            raise ValueError("impressions or clicks must be non-empty")
        return self

    @field_validator("clicks")
    @classmethod
    def _clicked_shown(cls, v: list[str], info: ValidationInfo) -> list[str]:
        """Each item clicked once, and with impressions one of them: never more clicks than
        impressions (clicks alone report clicks on a list reported before)."""
        if len(set(v)) < len(v):
            raise ValueError("an item is clicked at most once per report")
        shown = info.data.get("impressions") or []
        if shown and not set(v) <= set(shown):
            odd = sorted(set(v) - set(shown))[:5]
            raise ValueError(f"{odd} not among this report's impressions")
        return v

    def to_events(self, now: float) -> list[Event]:
        """The impressions and clicks as events of the log. With a ``recommendation_id`` each
        (list, type, item) has an event id, so a resent report is stored once."""
        ts = self.timestamp if self.timestamp is not None else now
        rid = self.recommendation_id
        return [
            Event(
                self.user_id,
                item,
                kind,
                ts,
                f"feedback:{rid}:{kind.value}:{item}" if rid else None,
                self.session_id,
                recommendation_id=rid,
            )
            for kind, items in (
                (EventType.IMPRESSION, self.impressions),
                (EventType.CLICK, self.clicks),
            )
            for item in items
        ]


class FeedbackOut(BaseModel):
    impressions: int
    clicks: int
    stored: int = Field(
        default=0, description="Impression and click events newly stored in the event log."
    )


class DeletedOut(BaseModel):
    user_id: str
    events_deleted: int


class SessionDeletedOut(BaseModel):
    session_id: str
    events_deleted: int
