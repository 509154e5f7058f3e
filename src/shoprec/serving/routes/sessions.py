"""Anonymous shoppers' endpoints: the feed of a session that names no user (the storefront
before sign-in). Signing in merges the session into the shopper: see ``POST /v1/events``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from shoprec.data.keys import session_key
from shoprec.serving.offload import heavy
from shoprec.serving.routes import users
from shoprec.serving.routes.deps import SHOPPER_READ, WRITE, EngineDep, api_router
from shoprec.serving.routes.paging import PAGED, Cursor, Offset
from shoprec.serving.schemas.users import RecommendationsOut, SessionDeletedOut

router = api_router(tags=["sessions"])
SessionPath = Annotated[str, Path(min_length=1, max_length=256)]


@router.get(
    "/sessions/{session_id:path}/recommendations",
    response_model=RecommendationsOut,
    dependencies=[SHOPPER_READ],
    responses=PAGED,
)
async def session_recommendations(
    session_id: SessionPath,
    engine: EngineDep,
    n: Annotated[int, Query(ge=1, le=100)] = 20,
    category: Annotated[str | None, Query(max_length=200)] = None,
    min_price: users.Price = None,
    max_price: users.Price = None,
    exclude: Annotated[str | None, Query(max_length=20_000, description="Comma-separated")] = None,
    offset: Offset = None,
    cursor: Cursor = None,
) -> Response:
    """The home feed of the anonymous session ``session_id``: the same list, filters and
    experiment variant as ``GET /v1/users/{user_id}/recommendations?session_id=`` (which keeps
    working); ``user_id`` in the answer is the session's shopper key, ``session:<id>``. An
    unknown session gets trending items (the response names the fallback). After the shopper
    signs in (an event naming both ``user_id`` and this ``session_id``), the session's history
    belongs to the user and this feed starts afresh. Pages: ``cursor`` or ``offset``, as the
    shopper's feed."""
    return await users.recommendations(
        session_key(session_id),
        engine,
        n=n,
        category=category,
        min_price=min_price,
        max_price=max_price,
        exclude=exclude,
        session_id=session_id,
        offset=offset,
        cursor=cursor,
    )


@router.delete(
    "/sessions/{session_id:path}", response_model=SessionDeletedOut, dependencies=[WRITE]
)
async def delete_session(session_id: SessionPath, engine: EngineDep) -> dict:
    """Erase an anonymous session: its anonymous events, its state and its experiment records
    (a session whose shopper signed in is erased with the shopper, ``DELETE /v1/users``)."""
    return {
        "session_id": session_id,
        "events_deleted": await heavy(engine.delete_session, session_id),
    }
