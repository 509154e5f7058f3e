"""What a shop configures about access: its server keys (read / write / admin, compared in
constant time), the secret of its shopper tokens, the rate limit, the body limit and whether the
storefront page is served. :mod:`shoprec.serving.access` enforces it; docs/security.md says
what each credential may do."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

#: Access levels, lowest first: a key of one level passes every level below it.
LEVELS = ("read", "write", "admin")
#: The setting that configures each level's keys (named in refusals).
SETTING = {
    "read": "SHOPREC_READ_KEYS",
    "write": "SHOPREC_WRITE_KEYS",
    "admin": "SHOPREC_ADMIN_KEYS",
}


@dataclass(frozen=True)
class SecurityConfig:
    """Attributes
    ----------
    write_keys : keys accepted on write endpoints (events, items, feedback, deletion, tokens).
    admin_keys : keys accepted on admin endpoints (rules, experiments, audiences, messages,
        export); write keys are not admin keys.
    read_keys : when non-empty, catalog reads need one of these (or a write/admin key).
    token_secret : signs shopper tokens (empty: none are accepted or minted).
    token_max_ttl_s : the longest a shopper token may live.
    storefront : serve the demo page at ``/`` (False: 404).
    rate_per_s, burst : per caller, at most ``burst`` requests per window of
        ``burst / rate_per_s`` seconds (fixed, from the caller's first request); 0 = off.
    rate_storage : a ``redis://`` URL to share the limit between workers (None: in memory).
    rate_prefix : the key prefix of the limiter's Redis keys (one shop's).
    max_body_bytes : larger request bodies get 413.
    """

    write_keys: tuple[str, ...] = ()
    admin_keys: tuple[str, ...] = ()
    read_keys: tuple[str, ...] = ()
    token_secret: str = ""
    token_max_ttl_s: float = 3600.0
    storefront: bool = True
    rate_per_s: float = 0.0
    burst: int = 100
    rate_storage: str | None = None
    rate_prefix: str = "shoprec:"
    max_body_bytes: int = 4_000_000

    def keys_of(self, level: str) -> tuple[str, ...]:
        return {"read": self.read_keys, "write": self.write_keys, "admin": self.admin_keys}[level]

    @property
    def secured(self) -> bool:
        """Whether any credential is configured: from then on nothing is open that the
        configuration does not open (admin never is)."""
        return bool(self.read_keys or self.write_keys or self.admin_keys or self.token_secret)

    def key_level(self, key: str) -> str | None:
        """The highest level ``key`` is configured for, or None. Every configured key is
        compared, in constant time, so timing reveals neither the key nor its level."""
        found = None
        for level in LEVELS:
            if _matches(key, self.keys_of(level)):
                found = level
        return found


def from_settings(settings: Any, redis_url: str | None = None) -> SecurityConfig:
    """The access configuration of ``settings``; with ``redis_url`` (the store) the rate limit
    is shared by every worker of the shop."""

    def keys(raw: str) -> tuple[str, ...]:
        return tuple(k.strip() for k in raw.split(",") if k.strip())

    return SecurityConfig(
        write_keys=keys(settings.write_keys),
        admin_keys=keys(settings.admin_keys),
        read_keys=keys(settings.read_keys),
        token_secret=settings.shopper_token_secret,
        token_max_ttl_s=float(settings.shopper_token_max_ttl_s),
        storefront=settings.storefront,
        rate_per_s=settings.rate_limit_per_s,
        burst=settings.rate_limit_burst,
        rate_storage=redis_url,
        rate_prefix=settings.redis_prefix,
        max_body_bytes=settings.max_body_bytes,
    )


def _matches(key: str, keys: tuple[str, ...]) -> bool:
    # every configured key is compared, in constant time, so timing reveals nothing
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(key.encode(), k.encode())
    return ok


def presented(request: Request) -> tuple[str, str]:
    """``(header, value)`` of the credential a request presents: ``X-API-Key`` first, else
    ``Authorization: Bearer`` (a server key or a shopper token); ``("", "")`` for none."""
    key = request.headers.get("x-api-key", "")
    if key:
        return "X-API-Key", key
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return "Authorization", auth[7:].strip()
    return "", ""


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``: a declared length at once, a streamed (chunked) body as
    soon as it passes the limit. The streamed case raises an ``HTTPException`` from ``receive``:
    FastAPI re-raises those from its body parsing (any other exception there becomes a 400)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge(self.max_bytes)
            return message  # type: ignore[no-any-return]

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.max_bytes)


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: request larger than {limit} bytes")


async def _too_large(send: Any, limit: int) -> None:
    body = f'{{"error": "body: request larger than {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
