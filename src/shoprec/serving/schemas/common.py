"""What the route groups share: ids, batch limits, the error body and the documented error
answers, a recommended item, a citation."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from shoprec.data.keys import SESSION_PREFIX, is_session_key

Id = Annotated[str, Field(min_length=1, max_length=256)]
MAX_BATCH = 1000


def not_bool(v: object) -> object:
    """A ``mode="before"`` validator: pydantic would read true/false as 1/0, but JSON booleans
    are not numbers."""
    if isinstance(v, bool):
        raise ValueError("must be a number, not a boolean")
    return v


def not_session_key(v: str | None) -> str | None:
    """A user id validator: ``session:<id>`` is an anonymous session's key, so a user id with
    that prefix would share the session's state; refused."""
    if v and is_session_key(v):
        raise ValueError(
            f"must not start with {SESSION_PREFIX!r} (the prefix of anonymous sessions' keys; "
            "send the session id as session_id)"
        )
    return v


#: A user id as a request names it: never an anonymous session's key (``session:<id>``).
UserId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(not_session_key)]


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
    401: _error("Missing or invalid API key or shopper token"),
    403: _error("The credential may not do this (level, or another shopper); `error` says"),
    413: _error("Request body too large"),
    422: _error("Invalid input; `error` names the field"),
    429: _error("Rate limit exceeded; retry after Retry-After seconds"),
}
NOT_FOUND: dict[int | str, dict] = {404: _error("Unknown item or no match; `error` names it")}
CONFLICT: dict[int | str, dict] = {409: _error("Conflicts with the current state; `error` says")}
UNAVAILABLE: dict[int | str, dict] = {
    503: _error("A model or the store is unavailable now; retry after Retry-After seconds")
}


class RecommendedItem(BaseModel):
    item_id: str
    score: float = Field(
        description="The final score that ordered the list: it never increases down the list "
        "(sorting by it keeps the order)."
    )
    model_score: float | None = Field(
        default=None,
        description="The ranker's own relevance before the re-rank (diversity, boosts, slots), "
        "where one scored the item; null otherwise.",
    )
    reasons: list[str]


class ListAnswer(BaseModel):
    """What every list answer carries besides its items: the id later events cite, and pages."""

    recommendation_id: str = Field(
        description="Names this list: send it as `recommendation_id` with the events and "
        "feedback it leads to, and as `cursor` to get the next page."
    )
    offset: int = Field(default=0, description="Position of the first item in the list.")
    model_version: str = Field(
        description="The model bundle version that served this list (`none`: no trained model "
        "yet, trending and new items); `/healthz` names the version serving now."
    )


class CitationOut(BaseModel):
    item_id: str
    field: str
    text: str


def recommended_out(item_id: str, r: Any) -> dict[str, Any]:
    """One :class:`RecommendedItem` of a list answer, from a pipeline result row (``score``,
    ``model_score``, ``reasons``): the feed, batch lines and ``/v1/rank`` share it."""
    return {
        "item_id": item_id,
        "score": r.score,
        "model_score": r.model_score,
        "reasons": r.reasons,
    }
