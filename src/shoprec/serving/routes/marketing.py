"""Marketing: audiences most likely to buy next, and personalised, grounded messages."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import HTTPException

from shoprec.serving.routes.deps import ADMIN, EngineDep, api_router
from shoprec.serving.schemas.common import NOT_FOUND
from shoprec.serving.schemas.marketing import AudienceIn, AudienceOut, MessageIn, MessageOut

router = api_router(tags=["marketing"])


@router.post("/audiences", response_model=AudienceOut, dependencies=[ADMIN], responses=NOT_FOUND)
def audiences(body: AudienceIn, engine: EngineDep) -> dict:
    """The ``n`` shoppers most likely to buy from ``category`` (or among ``item_ids``) next,
    by the sequence model. Runs in the thread pool: it scores every shopper."""
    members, size = engine.audience(body.category, body.item_ids, body.n)
    if not size:
        what = "category" if body.category else "item_ids"
        raise HTTPException(404, f"{what}: no catalog items match")
    return {"target_items": size, "users": [{"user_id": u, "score": s} for u, s in members]}


@router.post("/messages", response_model=MessageOut, dependencies=[ADMIN], responses=NOT_FOUND)
async def messages(body: MessageIn, engine: EngineDep) -> dict:
    """A personalised message about ``item_id`` for ``user_id`` from product facts, review
    highlights and the shopper's interests; every fact is cited."""
    from shoprec.marketing.messages import message

    idx = engine.catalog.get(body.item_id)
    if not idx:
        raise HTTPException(404, f"item_id: unknown item {body.item_id!r}")
    st = engine.state(body.user_id)
    interests = st.interests(engine.clock) if st else []
    m = message(
        engine.catalog,
        idx,
        interests,
        engine.highlight_of(idx),
        engine.sentiment_of(idx),
        body.name,
    )
    return {
        "user_id": body.user_id,
        "item_id": body.item_id,
        "message": m.answer,
        "citations": [asdict(c) for c in m.citations],
    }
