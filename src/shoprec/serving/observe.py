"""What every HTTP request leaves behind: a request id (the caller's ``X-Request-ID`` or a new
one, echoed in the response header), its latency and count in the metrics, and one JSON access
log line (python-json-logger, serialised by orjson) on the ``shoprec.access`` logger."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from shoprec.serving.metrics import Metrics

#: The response (and accepted request) header carrying the request id.
REQUEST_ID_HEADER = "x-request-id"
#: The access log's logger: one INFO record per request.
ACCESS_LOGGER = "shoprec.access"
# an id from outside is echoed into headers and logs: printable, bounded, no separators
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:@/+=-]{1,128}$")

access_log = logging.getLogger(ACCESS_LOGGER)


def configure_access_log(enabled: bool, stream: Any = None) -> None:
    """One JSON line per request on ``stream`` (stdout by default), or none. Idempotent: the
    handler is replaced, never added twice."""
    for handler in list(access_log.handlers):
        access_log.removeHandler(handler)
    access_log.propagate = False  # the console's handler would print it a second time
    if not enabled:
        access_log.setLevel(logging.CRITICAL + 1)
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        OrjsonFormatter(  # about 2.5x faster than the json module's formatter
            ["levelname", "name", "message", "process"],
            rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
            timestamp=True,
        )
    )
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)


def request_id_of(scope: dict) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new random one."""
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            if _SAFE_ID.match(value):
                return value.decode()
            break
    return uuid.uuid4().hex


_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def _route_template(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    # "{user_id:path}" (an id may hold "/") labelled as the OpenAPI names it: "{user_id}"
    return _CONVERTER.sub(r"{\1}", getattr(route, "path", "unmatched"))


class ObserveRequests:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request id, metrics, access log.

    The id is also in ``request.state.request_id`` for the routes."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        rid = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode())
        status = [500]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - t0
            method, route = scope.get("method", ""), _route_template(scope)
            self.metrics.observe(method, route, status[0], seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "request",
                    extra={
                        "request_id": rid,
                        "method": method,
                        "path": scope.get("path", ""),
                        "query": scope.get("query_string", b"").decode("latin-1"),
                        "route": route,
                        "status": status[0],
                        "duration_ms": round(seconds * 1000.0, 3),
                        "client": client[0] if client else None,
                    },
                )
