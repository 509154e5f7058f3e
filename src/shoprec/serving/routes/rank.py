"""Re-ranking a caller's list: ``POST /v1/rank``."""

from __future__ import annotations

from collections import Counter

from shoprec.serving.routes.deps import SHOPPER_READ, EngineDep, api_router
from shoprec.serving.schemas.rank import RankIn, RankOut

router = api_router(tags=["recommendations"])

#: Reasons of an item the catalog does not hold (kept, never dropped).
UNKNOWN = ["Not in the catalog"]


@router.post("/rank", response_model=RankOut, dependencies=[SHOPPER_READ])
def rank_items(body: RankIn, engine: EngineDep) -> dict:
    """The caller's items (a category page, third-party search results) re-ranked for the
    shopper by the feed's pipeline, with scores and reasons. Nothing is dropped: items the
    shopper bought and out-of-stock items follow the ranked ones (unless ``context`` keeps
    them), ids not in the catalog come last and are named in ``unknown``; a repeated id is
    ranked once and named in ``duplicates``."""
    # a plain def (FastAPI's thread pool): a 1,000-item list is tens of milliseconds of numpy
    unique = list(dict.fromkeys(body.items))
    ctx = body.context
    version = engine.bundle.version
    res = engine.rank(unique, body.user_id, body.session_id, ctx.keep_bought, ctx.keep_out_of_stock)
    ids = engine.catalog.ids
    items = [
        {
            "item_id": ids[r.index],
            "score": r.score,
            "model_score": r.model_score,
            "reasons": r.reasons,
        }
        for r in res.items
    ]
    unknown = [unique[k] for k in res.unknown]
    items += [
        {"item_id": i, "score": s, "model_score": None, "reasons": UNKNOWN}
        for i, s in zip(unknown, res.unknown_scores, strict=True)
    ]
    items = items[: body.n]
    # an id that the events and feedback this list leads to can cite, like every list answer's
    rid = engine.pages.record("rank", [str(it["item_id"]) for it in items])
    return {
        "recommendation_id": rid,
        "offset": 0,
        "model_version": version,
        "user_id": body.user_id,
        "session_id": body.session_id,
        "items": items,
        "unknown": unknown,
        "duplicates": [i for i, count in Counter(body.items).items() if count > 1],
        "demoted": {why: [ids[i] for i in at] for why, at in res.demoted.items()},
        "fallback": res.fallback,
    }
