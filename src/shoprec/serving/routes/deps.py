"""What every router shares: the API prefix, the engine of the app serving the request, and the
access policies (enforced by :mod:`shoprec.serving.access` before the body is read)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from shoprec.serving.access import GuardedRoute, Policy
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
    return APIRouter(prefix=API_PREFIX + path, tags=tags, route_class=GuardedRoute)


# ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a hop that cost more
# than the whole trivial endpoint; it does not block.
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]

#: Server keys only: a key of this level or above (catalog reads open without read keys).
READ = Depends(Policy("read"))
WRITE = Depends(Policy("write"))
ADMIN = Depends(Policy("admin"))
#: Also a shopper token, for the shopper it names only (every user_id / session_id of the
#: path, query and body). ``CATALOG``: catalog reads a storefront makes (a shopper named in the
#: query needs a credential); ``SHOPPER_READ``: a shopper's own lists, profile and answers;
#: ``SHOPPER_WRITE``: their events and feedback; ``SHOPPER_EXPORT``: their export (with a
#: server key, admin).
CATALOG = Depends(Policy("read", tokens=True))
SHOPPER_READ = Depends(Policy("read", tokens=True, personal=True))
SHOPPER_WRITE = Depends(Policy("write", tokens=True, personal=True))
SHOPPER_EXPORT = Depends(Policy("admin", tokens=True, personal=True))
#: Reads naming many shoppers in the body (batch feeds): a server key once any is configured.
SHOPPERS_READ = Depends(Policy("read", personal=True))
