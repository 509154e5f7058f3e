"""``GET /v1/search``: lexical plus semantic product search, re-ranked for the shopper."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from shoprec.serving.routes.deps import READ, EngineDep, api_router
from shoprec.serving.schemas.search import SearchOut

router = api_router(tags=["search"])


@router.get("/search", response_model=SearchOut, dependencies=[READ])
def search(  # sync: FastAPI runs it in a worker thread, off the event loop (CPU-bound)
    q: Annotated[str, Query(min_length=1, max_length=500)],
    engine: EngineDep,
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    n: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    """Products matching ``q`` (words or meaning); the shopper's interests and recent
    activity lift what fits them."""
    ids = engine.catalog.ids
    return {
        "query": q,
        "user_id": user_id,
        "items": [
            {"item_id": ids[i], "score": s, "reasons": r}
            for i, s, r in engine.search(q, user_id, n)
        ],
    }
