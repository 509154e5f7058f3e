"""``POST /v1/events``: acknowledged only once durable in the event log."""

from __future__ import annotations

from shoprec.serving.clock import OutOfWindow
from shoprec.serving.degrade import unavailable
from shoprec.serving.routes.deps import SHOPPER_WRITE, EngineDep, api_router
from shoprec.serving.schemas.common import UNAVAILABLE
from shoprec.serving.schemas.events import EventsIn, EventsOut
from shoprec.store.errors import StoreUnavailable

router = api_router(tags=["events"])


@router.post(
    "/events", response_model=EventsOut, dependencies=[SHOPPER_WRITE], responses=UNAVAILABLE
)
def post_events(body: EventsIn, engine: EngineDep) -> dict:  # sync: takes the engine's lock
    """Append 1 to 1,000 events; an ``event_id`` seen before is not applied twice. While the
    store is unreachable: 503 with Retry-After (resend the same ``event_id`` values). An event
    time outside the clock's window: 422 naming it, nothing stored."""
    events = body.to_events(engine.stamp())
    try:
        accepted, duplicates = engine.ingest(events)
    except OutOfWindow as exc:
        raise exc.invalid("events", exc.index, "timestamp") from None
    except StoreUnavailable as exc:  # maybe stored, never acknowledged: a resend is deduplicated
        engine.counters.refused += len(events)
        raise unavailable(exc, "events not acknowledged") from exc
    return {"accepted": accepted, "duplicates": duplicates}
