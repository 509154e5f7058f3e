"""The HTTP app factory: ``create_app(engine)`` wires the routers to one :class:`Engine`.
No import-time globals: tests build as many apps as they like."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoprec.serving.access import Gate, policy_of
from shoprec.serving.engine import Engine
from shoprec.serving.metrics import Metrics
from shoprec.serving.observe import ObserveRequests
from shoprec.serving.offload import favour_the_loop
from shoprec.serving.openapi import TAGS, document, operation_id
from shoprec.serving.schemas.common import ERRORS
from shoprec.serving.security import BodyLimitMiddleware, SecurityConfig
from shoprec.serving.shedding import ShedAbandoned

log = logging.getLogger(__name__)


def create_app(
    engine: Engine,
    title: str = "shoprec",
    reports_dir: Path | None = None,
    security: SecurityConfig | None = None,
) -> FastAPI:
    """The API over ``engine`` (OpenAPI at ``/docs`` and ``/openapi.json``), the storefront at
    ``/`` and the dashboard at ``/dashboard`` (its charts come from ``reports_dir``)."""
    from fastapi.staticfiles import StaticFiles

    from shoprec.serving.routes import (
        assistant,
        batch,
        events,
        experiments,
        items,
        marketing,
        ops,
        rank,
        rules,
        search,
        sentiment,
        sessions,
        tokens,
        users,
    )
    from shoprec.serving.web import routes as web

    favour_the_loop()  # heavy threads hand the GIL back to the loop within 1 ms
    sec = security or SecurityConfig()
    app = FastAPI(
        title=title,
        version="0.1.0",
        description="Real-time personalisation: events in, recommendations with reasons out.",
        responses=ERRORS,  # the error bodies the handlers below actually send
        openapi_tags=TAGS,
        # readable operation ids for every route, those of routers added later included
        generate_unique_id_function=operation_id,
    )
    app.state.engine = engine
    app.state.gate = Gate(sec)  # the access rules and this process's one rate limiter
    app.state.metrics = Metrics(engine)
    groups = (
        *(events, items, users, sessions, batch, rank, rules, experiments),
        *(search, assistant, marketing, sentiment, tokens),
    )
    for group in groups:
        app.include_router(group.router)  # under routes.deps.API_PREFIX
    app.include_router(ops.router)
    app.include_router(ops.api)
    routers = [*(g.router for g in groups), ops.router, ops.api]
    app.state.api_routes = [r for rt in routers for r in rt.routes if isinstance(r, APIRoute)]
    levels = {
        p: p.level + ("+token" if p.tokens else "")
        for r in app.state.api_routes
        if (p := policy_of(r)) is not None
    }
    document(app, app.state.api_routes, levels)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    app.state.reports_dir = reports_dir if reports_dir and reports_dir.is_dir() else None
    if app.state.reports_dir:
        app.mount("/reports", StaticFiles(directory=reports_dir), name="reports")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            errors.append({"field": loc, "message": e.get("msg", "invalid"), "type": e.get("type")})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return JSONResponse(
            {"error": f"{first['field']}: {first['message']}", "errors": errors[:20]},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.add_middleware(BodyLimitMiddleware, max_bytes=sec.max_body_bytes)
    app.add_middleware(ObserveRequests, metrics=app.state.metrics)  # request id, log, metrics
    app.add_middleware(ShedAbandoned)  # outermost: a request whose client left costs nothing
    return app
