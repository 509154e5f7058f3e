"""The HTTP app factory: ``create_app(engine)`` wires the routers to one :class:`Engine`.
No import-time globals: tests build as many apps as they like."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoprec.serving.engine import Engine
from shoprec.serving.metrics import Metrics
from shoprec.serving.schemas.common import ERRORS
from shoprec.serving.security import BodyLimitMiddleware, SecurityConfig, guard
from shoprec.serving.shedding import ShedAbandoned

log = logging.getLogger(__name__)


def _route_template(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    return getattr(route, "path", "unmatched")


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): latency per route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.observe(
                scope.get("method", ""),
                _route_template(scope),
                status[0],
                time.perf_counter() - t0,
            )


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
        events,
        experiments,
        items,
        marketing,
        ops,
        search,
        sentiment,
        users,
    )
    from shoprec.serving.web import routes as web

    app = FastAPI(
        title=title,
        version="0.1.0",
        description="Real-time personalisation: events in, recommendations with reasons out.",
        responses=ERRORS,  # the error bodies the handlers below actually send
    )
    app.state.engine = engine
    sec = security or SecurityConfig()
    app.state.guards = {level: guard(sec, level) for level in ("read", "write", "admin")}
    app.state.metrics = Metrics(engine)
    for group in (events, items, users, experiments, search, assistant, marketing, sentiment):
        app.include_router(group.router)  # under routes.deps.API_PREFIX
    app.include_router(ops.router)
    app.include_router(ops.api)
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
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(ShedAbandoned)  # outermost: a request whose client left costs nothing
    return app
