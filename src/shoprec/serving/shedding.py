"""Load shedding: work for a client that has gone is not done.

An overloaded server queues requests; a client that gives up closes its connection and sends
again on a new one, while the server would still compute every abandoned answer, fall further
behind and never catch up (the soak benchmark saw exactly this). So a bodiless request whose
client disconnected before its turn came is dropped unanswered. The other half, a cap on the
requests in progress (uvicorn's ``limit_concurrency``, answered 503), is set by ``serve``.
"""

from __future__ import annotations

from typing import Any

#: Methods without a request body: their first ``receive()`` tells whether the client is gone.
BODILESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class ShedAbandoned:
    """Pure ASGI middleware: skip a bodiless request whose client already disconnected."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.dropped = 0  # requests skipped (their clients had gone)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODILESS:
            await self.app(scope, receive, send)
            return
        first = await receive()  # an empty http.request, or http.disconnect if the client left
        if first["type"] == "http.disconnect":
            self.dropped += 1
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        await self.app(scope, replay, send)
