"""Graceful degradation when the shared store (Redis) is unreachable.

Reads that can be answered without it are (the home feed falls back to in-process trending,
flagged in ``fallback``, see ``serving/recommend.py``); everything else, writes first, is refused
with 503 and ``Retry-After`` (never acknowledged and lost, never a 500). Recovery needs no
restart: the store's breaker lets the next call through after its cool-down.
"""

from __future__ import annotations

import math

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from shoprec.store.errors import StoreUnavailable


def retry_after(exc: StoreUnavailable) -> str:
    """The ``Retry-After`` header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(exc.retry_after_s)))


def unavailable(exc: StoreUnavailable, what: str) -> HTTPException:
    """The 503 a route raises when ``what`` could not be stored or read."""
    return HTTPException(
        503,
        f"{what}: the store is unavailable, retry later",
        headers={"Retry-After": retry_after(exc)},
    )


def install(app: FastAPI) -> FastAPI:
    """Answer 503 + Retry-After for any request that met an unreachable store."""

    async def _down(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StoreUnavailable)
        return JSONResponse(
            {"error": "store unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": retry_after(exc)},
        )

    app.add_exception_handler(StoreUnavailable, _down)
    return app
