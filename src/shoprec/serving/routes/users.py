"""Per-shopper endpoints: recommendations, profile, deletion, feedback."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Query, Response
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool

from shoprec.data.keys import session_key
from shoprec.ranking.pipeline import Result
from shoprec.ranking.strategy import Strategy
from shoprec.serving.clock import OutOfWindow
from shoprec.serving.degrade import unavailable
from shoprec.serving.offload import heavy
from shoprec.serving.pages import owner_of
from shoprec.serving.routes.deps import (
    SHOPPER_EXPORT,
    SHOPPER_READ,
    SHOPPER_WRITE,
    WRITE,
    EngineDep,
    api_router,
)
from shoprec.serving.routes.paging import PAGED, Cursor, Offset, page
from shoprec.serving.schemas.common import UNAVAILABLE, not_session_key, recommended_out
from shoprec.serving.schemas.users import (
    DeletedOut,
    FeedbackIn,
    FeedbackOut,
    ProfileOut,
    RecommendationsOut,
    UserExportOut,
)
from shoprec.store.errors import StoreUnavailable

router = api_router(tags=["users"])
# ``{user_id:path}`` in the routes: an id may hold "/" (sent percent-encoded, %2F), which the
# server decodes before routing
# a user id never starts with session: (an anonymous session's key): 422, not its state
UserPath = Annotated[str, Path(min_length=1, max_length=256), AfterValidator(not_session_key)]
Price = Annotated[float | None, Query(ge=0, le=1e9)]


@router.get(
    "/users/{user_id:path}/recommendations",
    response_model=RecommendationsOut,
    dependencies=[SHOPPER_READ],
    responses=PAGED,
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
    offset: Offset = None,
    cursor: Cursor = None,
) -> Response:
    """The home feed: ``n`` items with reasons. Unknown shoppers get trending items (the
    response names the fallback); ``session_id`` serves an anonymous session's state. Pages:
    ``cursor`` (the ``recommendation_id`` answered) or ``offset`` ask for the next ones, computed
    with the latest events but never an item an earlier page of the list showed."""
    excl = [x for x in (exclude or "").split(",") if x]
    version = engine.bundle.version  # read first: a reload meanwhile serves the next call
    # the running experiment's sticky variant (None, at the cost of one check, when none runs);
    # serving counts the list in the store: a write, in a worker thread, not on the loop
    key = session_key(session_id) if session_id else user_id
    arm = None
    if engine.experiments.running is not None:
        arm = await run_in_threadpool(engine.experiments.serve, key)
    uid = user_id if not session_id else ""
    args: dict = {"k": n, "shown": frozenset()}
    results: list[Result] = []

    def feed(k: int, shown: frozenset[str], st: Strategy | None) -> Result:
        return engine.recommend(
            uid, k, category, min_price, max_price, [*excl, *shown], st, session_id
        )

    def compute(k: int, shown: frozenset[str]) -> list:
        args.update(k=k, shown=shown)
        results.append(feed(k, shown, arm.strategy if arm else None))
        return results[-1].items

    owner = owner_of(uid, session_id, category, min_price, max_price, sorted(excl))
    pg = page(
        engine, "feed", owner, n, offset, cursor, compute, lambda r: engine.catalog.ids[r.index]
    )
    res = results[-1]
    request_id = None
    if arm is not None and arm.explore:  # exploration traffic: log every variant's list
        from shoprec.serving.explore import log_variants

        res.items = pg.items  # the page served, beside the other variants' same page
        request_id = await run_in_threadpool(  # every variant's list, and a store write
            log_variants, engine, arm, key, res, lambda st: feed(args["k"], args["shown"], st)
        )
    ids = engine.catalog.ids
    body = {
        "user_id": user_id,
        "items": [recommended_out(ids[r.index], r) for r in pg.items],
        "fallback": res.fallback,
        "strategy": arm.strategy.name if arm else engine.pipeline.strategy.name,
        "experiment": arm.experiment if arm else None,
        "variant": arm.variant if arm else None,
        "request_id": request_id,
        "recommendation_id": pg.recommendation_id,
        "offset": pg.offset,
        "model_version": version,
    }
    # Built here in the documented shape (response_model is for the OpenAPI schema only):
    # re-validating and re-encoding twenty items cost more than the trivial endpoint does.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/users/{user_id:path}/profile", response_model=ProfileOut, dependencies=[SHOPPER_READ])
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


@router.delete("/users/{user_id:path}", response_model=DeletedOut, dependencies=[WRITE])
async def delete_user(user_id: UserPath, engine: EngineDep) -> dict:
    """Erase every event and all state of the user."""
    # in the heavy pool: erasing rewrites SQLite pages and export files, and may wait for an
    # export's lock; the event loop and the other routes' threads serve on meanwhile
    return {"user_id": user_id, "events_deleted": await heavy(engine.delete_user, user_id)}


@router.post(
    "/feedback", response_model=FeedbackOut, dependencies=[SHOPPER_WRITE], responses=UNAVAILABLE
)
def feedback(body: FeedbackIn, engine: EngineDep) -> dict:  # sync: takes the engine's lock
    """Impressions and clicks on served recommendations: stored in the event log as
    ``impression`` and ``click`` events (with the ``recommendation_id`` named; so they reach
    training export and experiments; an impression is exposure, never interest), and counted
    for the click-through rate. While the store is unreachable: 503 with Retry-After."""
    try:
        stored, _ = engine.ingest(body.to_events(engine.stamp()))
    except OutOfWindow as exc:
        raise exc.invalid("timestamp") from None
    except StoreUnavailable as exc:  # not acknowledged: a resend with the id is stored once
        raise unavailable(exc, "feedback not stored") from exc
    engine.observe_feedback(len(body.impressions), len(body.clicks))
    if engine.experiments.running is not None:
        engine.experiments.on_feedback(
            body.user_id, len(body.impressions), len(body.clicks), body.request_id
        )
    return {"impressions": len(body.impressions), "clicks": len(body.clicks), "stored": stored}


@router.get(
    "/users/{user_id:path}/export", response_model=UserExportOut, dependencies=[SHOPPER_EXPORT]
)
def export_user(user_id: UserPath, engine: EngineDep) -> dict:  # sync: reads the whole log
    """Everything held on a user: every stored event, the online state (profile), and their
    experiment and exploration records."""
    from dataclasses import asdict

    st = engine.state(user_id)
    return {
        "user_id": user_id,
        "events": [{**asdict(e), "type": str(e.type)} for e in engine.events.user_events(user_id)],
        "state": st.to_dict() if st else None,
        **engine.experiments.held(user_id),
    }
