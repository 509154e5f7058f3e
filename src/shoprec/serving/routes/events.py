"""``POST /v1/events``: acknowledged only once durable in the event log."""

from __future__ import annotations

from fastapi import APIRouter

from shoprec.serving.routes.deps import WRITE, EngineDep
from shoprec.serving.schemas import EventsIn, EventsOut

router = APIRouter(prefix="/v1", tags=["events"])


@router.post("/events", response_model=EventsOut, dependencies=[WRITE])
async def post_events(body: EventsIn, engine: EngineDep) -> dict:
    """Append 1 to 1,000 events; an ``event_id`` seen before is not applied twice."""
    accepted, duplicates = engine.ingest(body.to_events())
    return {"accepted": accepted, "duplicates": duplicates}
