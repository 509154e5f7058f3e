"""What every router shares: the API prefix, the engine of the app serving the request, and the
access levels."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from shoprec.serving.engine import Engine

#: The version prefix of every API route (``/healthz``, ``/metrics`` and the pages stay at the
#: root).
API_PREFIX = "/v1"


def api_router(path: str = "", tags: list[str | Enum] | None = None) -> APIRouter:
    """A router whose routes live under :data:`API_PREFIX` (+ ``path``).

    The prefix is the router's own, not given at ``include_router``: recent FastAPI (0.165)
    leaves an include-time prefix out of ``scope["route"].path``, the template ``/metrics``
    labels requests by, which would lose the ``/v1``.
    """
    return APIRouter(prefix=API_PREFIX + path, tags=tags)


# Both are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a hop that
# cost more than the whole trivial endpoint; neither blocks.
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def _level(level: str):  # noqa: ANN202
    async def check(request: Request) -> None:
        request.app.state.guards[level](request)

    return check


EngineDep = Annotated[Engine, Depends(get_engine)]
#: Route dependencies: API key (and rate limit) for reads, writes and admin operations.
READ = Depends(_level("read"))
WRITE = Depends(_level("write"))
ADMIN = Depends(_level("admin"))
