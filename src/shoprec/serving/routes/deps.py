"""Shared dependencies: the engine of the app serving the request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shoprec.serving.engine import Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
