"""Review sentiment: score texts (not stored) and per-product aggregates with their trend."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path

from shoprec.serving.routes.deps import CATALOG, EngineDep, api_router
from shoprec.serving.schemas.common import NOT_FOUND, UNAVAILABLE
from shoprec.serving.schemas.sentiment import ItemSentimentOut, SentimentIn, SentimentOut

router = api_router(tags=["sentiment"])


@router.post(
    "/sentiment", response_model=SentimentOut, dependencies=[CATALOG], responses=UNAVAILABLE
)
def score_sentiment(body: SentimentIn, engine: EngineDep) -> dict:
    """Negative / neutral / positive with an intensity in [0, 1] per text, and the model
    (quick or fine-tuned) and version that scored them."""
    served = engine.sentiment_served()
    if served is None:
        reason = f"sentiment model unavailable: {engine.sentiment_reason}"
        raise HTTPException(503, reason, headers={"Retry-After": "60"})
    return {
        "results": [
            {"label": r.label, "intensity": r.intensity, "scores": r.scores}
            for r in served.model.predict(body.texts)
        ],
        "model": served.name,
        "model_version": served.version,
    }


@router.get(
    "/items/{item_id}/sentiment",
    response_model=ItemSentimentOut,
    dependencies=[CATALOG],
    responses=NOT_FOUND,
)
async def item_sentiment(
    item_id: Annotated[str, Path(min_length=1, max_length=256)], engine: EngineDep
) -> dict:
    """Shares of negative / neutral / positive reviews, mean intensity, count and the weekly
    trend of one product (zeros when it has no scored review yet)."""
    if item_id not in engine.catalog:
        raise HTTPException(404, f"item_id: unknown item {item_id!r}")
    hl = engine.reviews.highlight(item_id)
    served = engine.sentiment_served()
    return {
        "item_id": item_id,
        **engine.reviews.summary(item_id),
        "highlight": hl[1] if hl else None,
        "model": served.name if served else None,
        "model_version": served.version if served else None,
    }
