"""Catalog upserts and item-centred lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path, Query
from pydantic import AfterValidator

from shoprec.serving.offload import heavy
from shoprec.serving.pages import owner_of
from shoprec.serving.routes.deps import CATALOG, WRITE, EngineDep, api_router
from shoprec.serving.routes.paging import PAGED, Cursor, Offset, page
from shoprec.serving.schemas.common import NOT_FOUND, not_session_key
from shoprec.serving.schemas.items import ItemOut, ItemsIn, ItemsOut, SimilarOut

router = api_router("/items", tags=["items"])
ItemPath = Annotated[str, Path(min_length=1, max_length=256)]


@router.put("", response_model=ItemsOut, dependencies=[WRITE])
async def put_items(body: ItemsIn, engine: EngineDep) -> dict:
    """Insert or update 1 to 1,000 items; a new item is recommendable at once (by its text)."""
    items = [i.to_item() for i in body.items]
    before = sum(1 for it in items if it.item_id in engine.catalog)
    await heavy(engine.upsert_items, items)  # encoding: in the heavy pool, off the loop
    return {"upserted": len(items), "new": len({i.item_id for i in items}) - before}


@router.get("/{item_id}", response_model=ItemOut, dependencies=[CATALOG], responses=NOT_FOUND)
async def get_item(item_id: ItemPath, engine: EngineDep) -> dict:
    """One catalog item with its derived tags."""
    idx = engine.catalog.get(item_id)
    if not idx:
        raise HTTPException(404, f"item_id: unknown item {item_id!r}")
    item, tags = engine.catalog.items[idx], engine.catalog.tags[idx]
    assert item is not None
    return {
        "item_id": item.item_id,
        "title": item.title,
        "description": item.description,
        "category": list(item.category),
        "brand": item.brand,
        "price": item.price,
        "in_stock": item.in_stock,
        "tags": list(engine.catalog.labels[idx]),
        "derived_category": tags.category if tags else None,
    }


@router.get(
    "/{item_id}/similar", response_model=SimilarOut, dependencies=[CATALOG], responses=PAGED
)
async def similar_items(
    item_id: ItemPath,
    engine: EngineDep,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=256), AfterValidator(not_session_key)
    ] = None,
    offset: Offset = None,
    cursor: Cursor = None,
) -> dict:
    """Items bought with this one (co-visitation), then items with similar text, in stock;
    with ``user_id``, none that shopper already bought. An unknown item or user gets a list
    (empty, or not personalised), not an error. Pages: ``cursor`` (the ``recommendation_id``
    answered) or ``offset``; a next page never repeats an item of an earlier one."""
    ids = engine.catalog.ids
    version = engine.bundle.version

    def compute(k: int, shown: frozenset[str]) -> list[tuple[int, float, str]]:
        return engine.similar(item_id, k, user_id, shown)

    owner = owner_of(item_id, user_id)
    pg = page(engine, "similar", owner, n, offset, cursor, compute, lambda h: ids[h[0]])
    return {
        "item_id": item_id,
        "items": [{"item_id": ids[j], "score": s, "reasons": [why]} for j, s, why in pg.items],
        "recommendation_id": pg.recommendation_id,
        "offset": pg.offset,
        "model_version": version,
    }
