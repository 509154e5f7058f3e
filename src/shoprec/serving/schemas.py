"""HTTP request and response schemas (pydantic stays at the edge). Every constraint here is
a clear 422 naming the field, never a 500 and never a silent drop."""

from __future__ import annotations

import math
import time
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic.json_schema import JsonDict, JsonValue

from shoprec.data.records import Event, EventType, Item

Id = Annotated[str, Field(min_length=1, max_length=256)]


def _not_bool(v: object) -> object:
    # pydantic would read true/false as 1/0: JSON booleans are not numbers
    if isinstance(v, bool):
        raise ValueError("must be a number, not a boolean")
    return v


MAX_BATCH = 1000
ITEM_EVENTS = {"view", "click", "add_to_cart", "purchase", "review"}


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. events.0.type")
    message: str
    type: str | None = None


class ErrorOut(BaseModel):
    """The body of every error answer: ``error`` names the field or the reason."""

    error: str
    errors: list[FieldError] | None = Field(default=None, description="Per field, on 422")


def _error(description: str) -> dict:
    return {"model": ErrorOut, "description": description}


#: Error answers any route may give, documented in the OpenAPI schema (replaces FastAPI's
#: default 422 body, which is not what the app sends).
ERRORS: dict[int | str, dict] = {
    400: _error("The body is not valid JSON"),
    401: _error("Missing or invalid API key"),
    413: _error("Request body too large"),
    422: _error("Invalid input; `error` names the field"),
    429: _error("Rate limit exceeded; retry after Retry-After seconds"),
}
NOT_FOUND: dict[int | str, dict] = {404: _error("Unknown item or no match; `error` names it")}
CONFLICT: dict[int | str, dict] = {409: _error("Conflicts with the current state; `error` says")}
UNAVAILABLE: dict[int | str, dict] = {
    503: _error("A model or the store is unavailable now; retry after Retry-After seconds")
}


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

    user_id: str = Field(default="", max_length=256, description="Empty for anonymous sessions.")
    item_id: str = Field(default="", max_length=256)
    type: EventType
    timestamp: float | None = Field(
        default=None, ge=0, le=1e11, description="Unix seconds; default: when received."
    )
    event_id: str | None = Field(default=None, min_length=1, max_length=256)
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    query: str | None = Field(default=None, max_length=1000)
    rating: float | None = Field(default=None, ge=1, le=5)
    text: str | None = Field(default=None, max_length=20_000)

    _numbers = field_validator("timestamp", "rating", mode="before")(_not_bool)

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
        if self.type.value in ITEM_EVENTS and not self.item_id:
            raise ValueError(f"item_id is required for '{self.type.value}' events")
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
        )


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)

    def to_events(self) -> list[Event]:
        now = time.time()
        return [e.to_event(now) for e in self.events]


class EventsOut(BaseModel):
    accepted: int = Field(description="Events newly stored (durable when this answer is sent).")
    duplicates: int = Field(default=0, description="Events whose event_id was seen before.")


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

    _numbers = field_validator("price", mode="before")(_not_bool)

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
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_BATCH)


class ItemsOut(BaseModel):
    upserted: int
    new: int


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    reasons: list[str]


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


class SimilarOut(BaseModel):
    item_id: str
    items: list[RecommendedItem]


class SearchOut(BaseModel):
    query: str
    user_id: str | None
    items: list[RecommendedItem]


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


class CitationOut(BaseModel):
    item_id: str
    field: str
    text: str


class AssistantOut(BaseModel):
    answer: str
    intent: str = Field(description="need, product or order")
    products: list[Product]
    citations: list[CitationOut]
    constraints: dict


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

    _numbers = field_validator("n", mode="before")(_not_bool)

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


class SentimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Annotated[str, Field(max_length=20_000)]] = Field(min_length=1, max_length=100)


class SentimentScores(BaseModel):
    negative: float
    neutral: float
    positive: float


class SentimentOne(BaseModel):
    label: str
    intensity: float = Field(ge=0, le=1)
    scores: SentimentScores


class SentimentOut(BaseModel):
    results: list[SentimentOne]
    model: str = Field(description="The model that scored: quick, fine-tuned (or frozen-encoder)")
    model_version: str = Field(description="Its version (quick: data hash and training time)")


class WeekSentiment(BaseModel):
    week: str
    count: int
    negative: float
    neutral: float
    positive: float


class ItemSentimentOut(BaseModel):
    item_id: str
    count: int
    negative: float
    neutral: float
    positive: float
    mean_intensity: float
    drift: float = Field(description="Net sentiment of the last 4 weeks minus before")
    trend: list[WeekSentiment]
    highlight: str | None
    model: str | None = Field(description="The model that scored the reviews (null: none yet)")
    model_version: str | None
