"""Per-shopper endpoints: recommendations, profile, deletion, feedback."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Query, Response

from shoprec.data.keys import session_key
from shoprec.serving.routes.deps import ADMIN, READ, WRITE, EngineDep, api_router
from shoprec.serving.schemas.users import (
    DeletedOut,
    FeedbackIn,
    FeedbackOut,
    ProfileOut,
    RecommendationsOut,
    UserExportOut,
)

router = api_router(tags=["users"])
UserPath = Annotated[str, Path(min_length=1, max_length=256)]
Price = Annotated[float | None, Query(ge=0, le=1e9)]


@router.get(
    "/users/{user_id}/recommendations", response_model=RecommendationsOut, dependencies=[READ]
)
async def recommendations(
    user_id: UserPath,
    engine: EngineDep,
    n: Annotated[int, Query(ge=1, le=100)] = 20,
    category: Annotated[str | None, Query(max_length=200)] = None,
    min_price: Price = None,
    max_price: Price = None,
    exclude: Annotated[str | None, Query(max_length=20_000, description="Comma-separated")] = None,
    session_id: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """The home feed: ``n`` items with reasons. Unknown shoppers get trending items (the
    response names the fallback); ``session_id`` serves an anonymous session's state."""
    excl = [x for x in (exclude or "").split(",") if x]
    # the running experiment's sticky variant (None, at the cost of one check, when none runs)
    key = session_key(session_id) if session_id else user_id
    arm = engine.experiments.serve(key) if engine.experiments.running is not None else None
    res = engine.recommend(
        user_id if not session_id else "",
        n,
        category,
        min_price,
        max_price,
        excl,
        strategy=arm.strategy if arm else None,
        session_id=session_id,
    )
    request_id = None
    if arm is not None and arm.explore:  # exploration traffic: log every variant's list
        from shoprec.ranking.pipeline import Result
        from shoprec.ranking.strategy import Strategy
        from shoprec.serving.explore import log_variants

        def other(st: Strategy) -> Result:
            uid = user_id if not session_id else ""
            args = (uid, n, category, min_price, max_price, excl)
            return engine.recommend(*args, strategy=st, session_id=session_id)

        request_id = log_variants(engine, arm, key, res, other)
    ids = engine.catalog.ids
    body = {
        "user_id": user_id,
        "items": [
            {"item_id": ids[r.index], "score": r.score, "reasons": r.reasons} for r in res.items
        ],
        "fallback": res.fallback,
        "strategy": arm.strategy.name if arm else engine.pipeline.strategy.name,
        "experiment": arm.experiment if arm else None,
        "variant": arm.variant if arm else None,
        "request_id": request_id,
    }
    # Built here in the documented shape (response_model is for the OpenAPI schema only):
    # re-validating and re-encoding twenty items cost more than the trivial endpoint does.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/users/{user_id}/profile", response_model=ProfileOut, dependencies=[READ])
async def profile(
    user_id: UserPath, engine: EngineDep, top: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict:
    """Weighted interest tags (time-decayed, summing to 1) and the latest items."""
    st = engine.state(user_id)
    if st is None:
        return {
            "user_id": user_id,
            "interests": [],
            "recent": [],
            "bought": [],
            "session_id": None,
            "n_events": 0,
        }
    return {
        "user_id": user_id,
        "interests": [{"tag": t, "weight": w} for t, w in st.interests(engine.clock, top)],
        "recent": [{"item_id": i, "timestamp": t, "type": k} for i, t, k in st.recent[-20:][::-1]],
        "bought": sorted(st.bought),
        "session_id": st.session_id,
        "n_events": st.n_events,
    }


@router.delete("/users/{user_id}", response_model=DeletedOut, dependencies=[WRITE])
def delete_user(user_id: UserPath, engine: EngineDep) -> dict:
    """Erase every event and all state of the user."""
    # a plain def (FastAPI's thread pool): erasing rewrites SQLite pages and export files,
    # and may wait for an export's lock; the event loop keeps serving meanwhile
    return {"user_id": user_id, "events_deleted": engine.delete_user(user_id)}


@router.post("/feedback", response_model=FeedbackOut, dependencies=[WRITE])
async def feedback(body: FeedbackIn, engine: EngineDep) -> dict:
    """Impressions and clicks on served recommendations (click-through rate)."""
    engine.observe_feedback(len(body.impressions), len(body.clicks))
    if engine.experiments.running is not None:
        engine.experiments.on_feedback(
            body.user_id, len(body.impressions), len(body.clicks), body.request_id
        )
    return {"impressions": len(body.impressions), "clicks": len(body.clicks)}


@router.get("/users/{user_id}/export", response_model=UserExportOut, dependencies=[ADMIN])
async def export(user_id: UserPath, engine: EngineDep) -> dict:
    """Everything held on a user: every stored event and the online state (profile)."""
    from dataclasses import asdict

    st = engine.state(user_id)
    return {
        "user_id": user_id,
        "events": [{**asdict(e), "type": str(e.type)} for e in engine.events.user_events(user_id)],
        "state": st.to_dict() if st else None,
    }
