"""``GET /v1/search``: lexical plus semantic product search, re-ranked for the shopper."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from shoprec.nlp.search import Hit
from shoprec.serving.pages import owner_of
from shoprec.serving.routes.deps import CATALOG, EngineDep, api_router
from shoprec.serving.routes.paging import PAGED, Cursor, Offset, page
from shoprec.serving.schemas.common import not_session_key
from shoprec.serving.schemas.search import SearchOut

router = api_router(tags=["search"])


@router.get("/search", response_model=SearchOut, dependencies=[CATALOG], responses=PAGED)
def search(  # sync: FastAPI runs it in a worker thread, off the event loop (CPU-bound)
    q: Annotated[str, Query(min_length=1, max_length=500)],
    engine: EngineDep,
    user_id: Annotated[str | None, Query(max_length=256), AfterValidator(not_session_key)] = None,
    n: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = None,
    cursor: Cursor = None,
) -> dict:
    """Products matching ``q`` (words or meaning); the shopper's interests and recent
    activity lift what fits them. Pages: ``cursor`` (the ``recommendation_id`` answered) or
    ``offset``; a next page never repeats an item of an earlier one."""
    ids = engine.catalog.ids
    version = engine.bundle.version

    def compute(k: int, shown: frozenset[str]) -> list[Hit]:
        return engine.search(q, user_id, k, shown)

    pg = page(
        engine, "search", owner_of(q, user_id), n, offset, cursor, compute, lambda h: ids[h[0]]
    )
    return {
        "query": q,
        "user_id": user_id,
        "items": [{"item_id": ids[i], "score": s, "reasons": r} for i, s, r in pg.items],
        "recommendation_id": pg.recommendation_id,
        "offset": pg.offset,
        "model_version": version,
    }
