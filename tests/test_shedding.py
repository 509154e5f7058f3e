"""Load shedding: a request whose client has gone is not computed; the rest pass through."""

from __future__ import annotations

import asyncio
from typing import Any

from shoprec.serving.shedding import ShedAbandoned


class Recorder:
    """An ASGI app that records what it was asked and reads its whole body."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.calls.append((scope["method"], body))


def run(app: ShedAbandoned, method: str, messages: list[dict]) -> None:
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    async def send(message: dict) -> None:
        pass

    asyncio.run(app({"type": "http", "method": method, "path": "/"}, receive, send))


def test_a_gone_client_is_not_served() -> None:
    inner = Recorder()
    app = ShedAbandoned(inner)
    run(app, "GET", [{"type": "http.disconnect"}])
    assert inner.calls == [] and app.dropped == 1


def test_a_waiting_client_is_served_with_its_request_replayed() -> None:
    inner = Recorder()
    app = ShedAbandoned(inner)
    run(app, "GET", [{"type": "http.request", "body": b"", "more_body": False}])
    chunks = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]
    run(app, "DELETE", chunks)
    assert inner.calls == [("GET", b""), ("DELETE", b"abcd")] and app.dropped == 0


def test_requests_with_a_body_pass_untouched() -> None:
    inner = Recorder()
    app = ShedAbandoned(inner)
    run(app, "POST", [{"type": "http.request", "body": b'{"events": []}', "more_body": False}])
    assert inner.calls == [("POST", b'{"events": []}')]
