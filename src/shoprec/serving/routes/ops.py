"""Health and Prometheus metrics (unversioned: probes and scrapers), and the dashboard's live
figures (``/v1/stats``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shoprec.serving.routes.deps import READ, EngineDep, api_router

#: ``/healthz`` and ``/metrics``, at the root.
router = APIRouter(tags=["ops"])
#: ``/v1/stats``.
api = api_router(tags=["ops"])


@router.get("/healthz")
async def healthz(engine: EngineDep) -> dict:
    """Liveness and what is loaded (also the trivial endpoint of the throughput benchmark)."""
    return {"status": "ok", "items": len(engine.catalog), "model": engine.bundle.version}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4")


@api.get("/stats", dependencies=[READ])
async def stats(engine: EngineDep) -> dict:
    """Live figures for the dashboard: events/s, latency percentiles per route (ms),
    click-through rate from feedback, catalog coverage of served lists, fallback rate."""
    return {
        **engine.stats.snapshot(len(engine.catalog)),
        "items": len(engine.catalog),
        "shoppers": len(engine.states),
        "model_version": engine.bundle.version,
        "falling_sentiment": [
            {
                "item_id": i,
                "title": engine.catalog.title(engine.catalog.get(i)),
                "drift": d,
                "reviews": n,
            }
            for i, d, n in engine.reviews.falling(10)
        ],
    }
