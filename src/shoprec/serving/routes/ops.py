"""Liveness, readiness and Prometheus metrics (unversioned: probes and scrapers), and the
dashboard's live figures (``/v1/stats``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from shoprec.serving.engine import Engine
from shoprec.serving.routes.deps import READ, EngineDep, api_router
from shoprec.serving.schemas.ops import HealthOut, ReadyOut

#: ``/healthz``, ``/readyz`` and ``/metrics``, at the root.
router = APIRouter(tags=["ops"])
#: ``/v1/stats``.
api = api_router(tags=["ops"])


@router.get("/healthz", response_model=HealthOut)
async def healthz(engine: EngineDep) -> dict:
    """Liveness: the process answers (also the trivial endpoint of the throughput benchmark).
    It says nothing of the store: that is ``/readyz``."""
    version = engine.bundle.version
    return {
        "status": "ok",
        "items": len(engine.catalog),
        "model": version,
        "model_version": version,
    }


def _checks(engine: Engine) -> dict[str, str]:
    """``"ok"`` or why not, per thing a request needs: the store answers, the models are in."""
    checks: dict[str, str] = {}
    try:
        shared = engine.shared
        if shared is not None and not shared.breaker.up:
            raise ConnectionError("Redis failing fast after a recent failure")
        engine.events.last_seq()  # one cheap read (SQLite: a row; Redis: a GET)
        checks["store"] = "ok"
    except Exception as exc:  # any failure to read is "not ready", with its reason
        checks["store"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
    bundle = engine.bundle
    if bundle is None or bundle.n_rows == 0:
        checks["model"] = "no model bundle loaded"
    else:
        checks["model"] = "ok"
    return checks


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready; `checks` says why"}},
)
async def readyz(engine: EngineDep) -> JSONResponse:
    """Readiness: 200 when the store answers and the model bundle is loaded, else 503 with
    the failing check's reason (a load balancer sends no traffic here until it is 200)."""
    checks = await run_in_threadpool(_checks, engine)  # a Redis read may wait its timeout
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "items": len(engine.catalog),
        "model": engine.bundle.version if engine.bundle is not None else None,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text format; under several workers, summed over all of them."""
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4")


@api.get("/stats", dependencies=[READ])
async def stats(engine: EngineDep) -> dict:
    """Live figures for the dashboard: events/s, latency percentiles per route (ms),
    click-through rate from feedback, catalog coverage of served lists, fallback rate."""
    return {
        **engine.stats.snapshot(len(engine.catalog)),
        "items": len(engine.catalog),
        "shoppers": engine.census.shoppers(),  # cached: a count walks the store
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
