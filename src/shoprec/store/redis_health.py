"""The Redis connection: :func:`connect` (a client with short timeouts) and the :class:`Breaker`
the Redis stores of one process share, so that an unreachable Redis fails fast with
:class:`~shoprec.store.errors.StoreUnavailable` for ``cooldown_s`` instead of every call
reconnecting."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shoprec.store.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


class Breaker:
    """Shared by the Redis stores of one process: after a connection failure, calls fail fast
    with :class:`StoreUnavailable` for ``cooldown_s``, then the next call probes Redis again.

    Parameters
    ----------
    cooldown_s : how long to fail fast after a failure (also the advertised Retry-After).
    """

    def __init__(self, cooldown_s: float = 0.5) -> None:
        self.cooldown_s = cooldown_s
        self.failures = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        """Whether calls go through to Redis now (False while failing fast)."""
        return time.monotonic() >= self._open_until

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run a Redis call; turn a connection failure into :class:`StoreUnavailable`."""
        if not self.up:
            raise StoreUnavailable("Redis unavailable (recent failure)", self.cooldown_s)
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # BusyLoading included
            with self._lock:
                self.failures += 1
                self._open_until = time.monotonic() + self.cooldown_s
            raise StoreUnavailable(f"Redis unavailable: {exc}", self.cooldown_s) from exc


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Method decorator: the call runs under ``self.breaker.guard()``."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0].breaker.guard():  # type: ignore[attr-defined]
            return fn(*args, **kwargs)

    return wrapper


def connect(url: str, timeout_s: float = 0.5) -> redis.Redis:
    """A client for ``url`` that fails within ``timeout_s`` instead of hanging a request, and
    retries once at once (a pooled connection is stale after a Redis restart)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
    )
