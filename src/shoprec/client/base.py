"""What the sync and async clients share: the request each method sends, the error raised on
a non-2xx answer, and the settings of the underlying httpx client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

#: Versioned API routes; the probes and ``/metrics`` are at the root.
API = "/v1"


class ShoprecError(Exception):
    """A non-2xx answer: ``status``, the server's ``error`` (it names the offending field on
    422), the per-field ``errors``, and ``retry_after`` seconds on 429 and 503."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        self.error: str = str(body.get("error") or response.reason_phrase or "error")
        self.errors: list[dict[str, Any]] = body.get("errors") or []
        retry = response.headers.get("retry-after")
        self.retry_after: float | None = float(retry) if retry and retry.isdigit() else None
        self.request_id: str | None = response.headers.get("x-request-id")
        super().__init__(f"{self.status} {self.error}")


@dataclass(frozen=True)
class Call:
    """One request: method, path (already quoted), query and JSON body."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None


def seg(value: str) -> str:
    """A path segment: ids may hold ``/``, ``?`` or spaces."""
    return quote(str(value), safe="")


def params(**values: Any) -> dict[str, Any]:
    """Query parameters without the ``None`` ones (the server's defaults apply)."""
    return {k: v for k, v in values.items() if v is not None}


def body(**values: Any) -> dict[str, Any]:
    """A JSON body without the ``None`` fields (the server's defaults apply)."""
    return {k: v for k, v in values.items() if v is not None}


def csv(ids: Sequence[str] | str | None) -> str | None:
    """A list of ids as the comma-separated query value the API takes."""
    return ids if ids is None or isinstance(ids, str) else ",".join(ids)


def headers(
    api_key: str | None, extra: dict[str, str] | None, token: str | None = None
) -> dict[str, str]:
    """The headers of every request: a server key as ``X-API-Key``, a shopper token as
    ``Authorization: Bearer`` (its holder acts for that one shopper)."""
    out = {"accept": "application/json"}
    if api_key:
        out["x-api-key"] = api_key
    if token:
        out["authorization"] = f"Bearer {token}"
    return {**out, **(extra or {})}


def parse(response: httpx.Response) -> Any:
    """The answer's body (JSON, JSON lines as a list, or text), or :class:`ShoprecError`."""
    if response.status_code >= 400:
        raise ShoprecError(response)
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return response.json()
    if kind.startswith("application/x-ndjson"):
        import json

        return [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return response.text
