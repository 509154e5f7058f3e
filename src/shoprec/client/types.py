"""The JSON bodies the API takes and answers, as TypedDicts (the server's OpenAPI document,
``/openapi.json``, is the reference; keys marked ``NotRequired`` may be absent)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Event(TypedDict):
    """One event sent to ``post_events``: ``user_id`` or ``session_id`` is required; both
    fold the session's history into the shopper (login merge)."""

    type: str
    user_id: NotRequired[str]
    item_id: NotRequired[str]
    session_id: NotRequired[str]
    timestamp: NotRequired[float]
    event_id: NotRequired[str]
    query: NotRequired[str]
    rating: NotRequired[float]
    text: NotRequired[str]
    recommendation_id: NotRequired[str]


class Item(TypedDict):
    """A catalog item sent to ``put_items``."""

    item_id: str
    title: NotRequired[str]
    description: NotRequired[str]
    category: NotRequired[list[str] | str]
    brand: NotRequired[str]
    price: NotRequired[float | None]
    in_stock: NotRequired[bool]
    attributes: NotRequired[dict[str, str]]


class RecommendedItem(TypedDict):
    item_id: str
    score: float
    reasons: list[str]


class Recommendations(TypedDict):
    user_id: str
    items: list[RecommendedItem]
    fallback: str | None
    strategy: str
    experiment: str | None
    variant: str | None
    request_id: str | None
    recommendation_id: str
    offset: int
    model_version: str


class SimilarItems(TypedDict):
    item_id: str
    items: list[RecommendedItem]
    recommendation_id: str
    offset: int
    model_version: str


class SearchResults(TypedDict):
    query: str
    user_id: str | None
    items: list[RecommendedItem]
    recommendation_id: str
    offset: int
    model_version: str


class RankedList(TypedDict):
    user_id: str | None
    session_id: str | None
    items: list[RecommendedItem]
    unknown: list[str]
    duplicates: list[str]
    demoted: dict[str, list[str]]
    fallback: str | None
    recommendation_id: str
    offset: int
    model_version: str


class EventsAccepted(TypedDict):
    accepted: int
    duplicates: int


class ItemsUpserted(TypedDict):
    upserted: int
    new: int


class CatalogItem(TypedDict):
    item_id: str
    title: str
    description: str
    category: list[str]
    brand: str
    price: float | None
    in_stock: bool
    tags: list[str]
    derived_category: str | None


class Profile(TypedDict):
    user_id: str
    interests: list[dict[str, Any]]
    recent: list[dict[str, Any]]
    bought: list[str]
    session_id: str | None
    n_events: int


class FeedbackStored(TypedDict):
    impressions: int
    clicks: int
    stored: int


class Deleted(TypedDict):
    user_id: str
    events_deleted: int


class SessionDeleted(TypedDict):
    session_id: str
    events_deleted: int


class ShopperToken(TypedDict):
    token: str
    user_id: str | None
    session_id: str | None
    expires_at: float


class UserExport(TypedDict):
    user_id: str
    events: list[dict[str, Any]]
    state: dict[str, Any] | None
    experiments: list[dict[str, Any]]
    exploration: list[dict[str, Any]]


class AssistantAnswer(TypedDict):
    answer: str
    intent: str
    products: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    constraints: dict[str, Any]


class Audience(TypedDict):
    target_items: int
    users: list[dict[str, Any]]


class Message(TypedDict):
    user_id: str
    item_id: str
    message: str
    citations: list[dict[str, Any]]


class SentimentScored(TypedDict):
    results: list[dict[str, Any]]
    model: str
    model_version: str


class ExperimentSummary(TypedDict):
    name: str
    status: str
    mode: str
    variants: int


class Health(TypedDict):
    status: str
    items: int
    model: str


class Ready(TypedDict):
    status: str
    checks: dict[str, str]
    items: int
    model: str | None


#: Answers whose many fields are best read in the OpenAPI document (experiment reports, item
#: sentiment, the dashboard's figures, a stopped experiment).
JsonObject = dict[str, Any]
