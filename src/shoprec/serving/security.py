"""API keys (compared in constant time), per-key rate limits (429) and request size limits
(413). Keys come from settings; with none configured the API is open (development)."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request


@dataclass(frozen=True)
class SecurityConfig:
    """Attributes
    ----------
    write_keys : keys accepted on write endpoints (events, items, feedback, deletion).
    admin_keys : keys accepted on admin endpoints (audiences, messages, export); write keys
        are not admin keys.
    read_keys : when non-empty, reads need one of these (or a write/admin key).
    rate_per_s, burst : token bucket per key (or per client address without a key); 0 = off.
    max_body_bytes : larger request bodies get 413.
    """

    write_keys: tuple[str, ...] = ()
    admin_keys: tuple[str, ...] = ()
    read_keys: tuple[str, ...] = ()
    rate_per_s: float = 0.0
    burst: int = 100
    max_body_bytes: int = 4_000_000


def from_settings(settings: Any) -> SecurityConfig:
    def keys(raw: str) -> tuple[str, ...]:
        return tuple(k.strip() for k in raw.split(",") if k.strip())

    return SecurityConfig(
        write_keys=keys(settings.write_keys),
        admin_keys=keys(settings.admin_keys),
        read_keys=keys(settings.read_keys),
        rate_per_s=settings.rate_limit_per_s,
        max_body_bytes=settings.max_body_bytes,
    )


def _matches(key: str, keys: tuple[str, ...]) -> bool:
    # every configured key is compared, in constant time, so timing reveals nothing
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(key.encode(), k.encode())
    return ok


def presented_key(request: Request) -> str:
    key = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


@dataclass
class RateLimiter:
    rate: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, who: str) -> float:
        """0 if allowed now, else the seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / self.rate


def guard(cfg: SecurityConfig, level: str) -> Callable[[Request], None]:
    """A dependency enforcing ``level`` ("read", "write" or "admin") and the rate limit."""
    limiter = RateLimiter(cfg.rate_per_s, cfg.burst) if cfg.rate_per_s > 0 else None
    accepted = {
        "read": cfg.read_keys + cfg.write_keys + cfg.admin_keys if cfg.read_keys else (),
        "write": cfg.write_keys + cfg.admin_keys,
        "admin": cfg.admin_keys,
    }[level]

    def check(request: Request) -> None:
        key = presented_key(request)
        if accepted and not (key and _matches(key, accepted)):
            raise HTTPException(
                401,
                f"{level} endpoint: missing or invalid API key (X-API-Key header)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if limiter is not None:
            who = key or (request.client.host if request.client else "anonymous")
            wait = limiter.allow(who)
            if wait > 0:
                raise HTTPException(
                    429, "rate limit exceeded", headers={"Retry-After": str(max(1, round(wait)))}
                )

    return check


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes`` (declared or streamed), before any parsing."""

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
                raise _TooLarge
            return message  # type: ignore[no-any-return]

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


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
