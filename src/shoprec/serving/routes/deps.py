"""Shared dependencies: the engine of the app serving the request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shoprec.serving.engine import Engine


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
