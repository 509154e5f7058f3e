"""The rate limit: one window per caller, from the ``limits`` library.

A caller is who :mod:`shoprec.serving.access` verified (a server key, a shopper token's
shopper) or else the client address, never an unchecked header value, so a caller cannot mint
a fresh bucket per request. The window is fixed, starting at a caller's first request: one
counter per caller with an expiry, so memory is bounded by the callers seen within one window
(``limits`` drops an expired counter, where its moving window keeps every caller's key). Over
Redis (the shop's store) the counters live in Redis, one per caller for all workers, and
expire there.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter as AsyncFixedWindow
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from shoprec.serving.security import SecurityConfig

log = logging.getLogger(__name__)


def window(rate_per_s: float, burst: int) -> RateLimitItem:
    """``burst`` requests per ``burst / rate_per_s`` seconds (whole seconds, at least one; the
    count grows to keep ``rate_per_s`` when the rate is above the burst)."""
    seconds = max(1, round(burst / rate_per_s))
    return RateLimitItemPerSecond(max(burst, math.ceil(rate_per_s * seconds)), seconds)


class RateLimit:
    """One per process (``create_app``): :meth:`hit` counts a request of ``who``."""

    def __init__(self, cfg: SecurityConfig) -> None:
        self.item = window(cfg.rate_per_s, cfg.burst)
        self.url = cfg.rate_storage
        self.prefix = f"{cfg.rate_prefix}ratelimit"
        self._memory = FixedWindowRateLimiter(MemoryStorage()) if self.url is None else None
        self._redis: AsyncFixedWindow | None = None  # made on first use: after a fork
        self._warned = False

    async def hit(self, who: str) -> float:
        """0 when ``who`` may go on, else the seconds until the window lets them."""
        try:
            if self._memory is not None:  # in-process: microseconds, no I/O
                if self._memory.hit(self.item, who):
                    return 0.0
                stats = self._memory.get_window_stats(self.item, who)
            else:
                if self._redis is None:
                    assert self.url is not None
                    storage = RedisStorage(
                        self.url,
                        implementation="redispy",
                        key_prefix=self.prefix,
                        wrap_exceptions=True,
                        socket_timeout=0.5,
                    )
                    self._redis = AsyncFixedWindow(storage)
                if await self._redis.hit(self.item, who):
                    return 0.0
                stats = await self._redis.get_window_stats(self.item, who)
        except StorageError as exc:  # Redis down: serve (the store's own checks answer 503)
            if not self._warned:
                log.warning("rate limit not applied: its Redis storage failed: %s", exc)
                self._warned = True
            return 0.0
        return max(1.0, stats.reset_time - time.time())
