"""Schemas of ``POST /v1/events``."""

from __future__ import annotations

import math
import time
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import JsonDict, JsonValue

from shoprec.data import event_types
from shoprec.data.records import Event, EventType
from shoprec.serving.schemas.common import MAX_BATCH, not_bool, not_session_key

ITEM_EVENTS = {"view", "click", "add_to_cart", "purchase", "review", "impression"}


def _nonempty(field: str) -> JsonDict:
    return {"required": [field], "properties": {field: {"type": "string", "minLength": 1}}}


#: The cross-field rules of :class:`EventIn` in JSON Schema, so that the documented schema
#: accepts exactly what the validator accepts.
EVENT_RULES: JsonDict = {
    "allOf": [
        {"anyOf": [_nonempty("user_id"), _nonempty("session_id")]},
        {
            "if": {
                "required": ["type"],
                "properties": {"type": {"enum": list[JsonValue](sorted(ITEM_EVENTS))}},
            },
            "then": _nonempty("item_id"),
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "search"}}},
            "then": {"anyOf": [_nonempty("query"), _nonempty("item_id")]},
        },
    ]
}


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=EVENT_RULES)

    user_id: str = Field(
        default="",
        max_length=256,
        description="Empty for anonymous sessions; not starting with `session:` (the prefix "
        "of an anonymous session's key).",
    )
    item_id: str = Field(default="", max_length=256)
    type: str = Field(
        description="view, click, add_to_cart, purchase, search, review, or a type the shop "
        "declares in SHOPREC_EVENT_TYPES; any other is refused with the list of known types.",
        examples=["view"],
        # the types this server accepts, read when the OpenAPI document is built
        json_schema_extra=lambda schema: schema.update(enum=list[JsonValue](event_types.known())),
    )
    timestamp: float | None = Field(
        default=None,
        ge=0,
        le=1e11,
        description="Unix seconds; default: when received (under the data clock: the engine's "
        "clock). Refused (422) beyond SHOPREC_MAX_FUTURE_SKEW_S ahead of the engine's clock, "
        "or older than SHOPREC_RETAIN_DAYS when set.",
    )
    event_id: str | None = Field(default=None, min_length=1, max_length=256)
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    query: str | None = Field(default=None, max_length=1000)
    rating: float | None = Field(default=None, ge=1, le=5)
    text: str | None = Field(default=None, max_length=20_000)
    recommendation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The list answer this event followed (its `recommendation_id`).",
    )

    _numbers = field_validator("timestamp", "rating", mode="before")(not_bool)
    _user = field_validator("user_id")(not_session_key)

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        return event_types.parse(v)  # the built-in member, or a declared name

    @field_validator("timestamp", "rating")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.user_id and not self.session_id:
            raise ValueError("user_id or session_id is required")
        if event_types.needs_item(self.type, ITEM_EVENTS) and not self.item_id:
            raise ValueError(f"item_id is required for '{self.type}' events")
        if self.type is EventType.SEARCH and not (self.query or self.item_id):
            raise ValueError("query is required for 'search' events")
        return self

    def to_event(self, now: float) -> Event:
        return Event(
            user_id=self.user_id,
            item_id=self.item_id,
            type=self.type,
            timestamp=self.timestamp if self.timestamp is not None else now,
            event_id=self.event_id,
            session_id=self.session_id,
            query=self.query,
            text=self.text,
            rating=self.rating,
            recommendation_id=self.recommendation_id,
        )


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)

    def to_events(self, now: float | None = None) -> list[Event]:
        """The events, those sent without a time at ``now`` (default: the wall clock)."""
        now = time.time() if now is None else now
        return [e.to_event(now) for e in self.events]


class EventsOut(BaseModel):
    accepted: int = Field(description="Events newly stored (durable when this answer is sent).")
    duplicates: int = Field(default=0, description="Events whose event_id was seen before.")
