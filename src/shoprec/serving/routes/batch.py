"""Batch feeds: ``POST /v1/recommendations/batch``, one JSON line per shopper, streamed."""

from __future__ import annotations

from fastapi.responses import StreamingResponse

from shoprec.serving.batch import feed_chunks
from shoprec.serving.routes.deps import SHOPPERS_READ, EngineDep, api_router
from shoprec.serving.schemas.batch import BatchIn

router = api_router(tags=["recommendations"])

NDJSON = "application/x-ndjson"


@router.post(
    "/recommendations/batch",
    dependencies=[SHOPPERS_READ],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One line per shopper, in the order given: the body of "
            "GET /v1/users/{user_id}/recommendations?n= for that shopper.",
            "content": {NDJSON: {"schema": {"$ref": "#/components/schemas/RecommendationsOut"}}},
        }
    },
)
async def batch_recommendations(body: BatchIn, engine: EngineDep) -> StreamingResponse:
    """Feeds for up to 10,000 shoppers in one call (e-mail campaigns), as JSON lines.

    A plain iterator: Starlette draws it in its thread pool, one chunk of shoppers at a time,
    so the event loop keeps answering other requests while the lines are computed."""
    return StreamingResponse(feed_chunks(engine, body.user_ids, body.n), media_type=NDJSON)
