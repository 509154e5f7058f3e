"""Work that must not run on the event loop: heavy calls (an erasure, a catalog upsert that
encodes text) go to worker threads through a small pool of their own, so they can neither
freeze the loop nor take every thread of FastAPI's pool from the fast routes (events, search).
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")

#: Heavy calls running at once per process; more wait their turn (off the loop).
HEAVY_THREADS = 2
#: How long a thread holding the GIL may run before another waiting for it gets it (s).
#: Python's default, 5 ms, is paid by the loop at each of a request's several GIL hand-backs
#: while a heavy thread computes (an erasure building 100k events): a /healthz read 20-50 ms.
SWITCH_INTERVAL_S = 0.001

# one limiter per event loop: a limiter belongs to the loop that created it (tests run apps
# on several loops in one process)
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(HEAVY_THREADS)
    return limiter


async def heavy(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in a worker thread of the heavy pool; the loop serves on meanwhile."""
    return await anyio.to_thread.run_sync(partial(fn, *args), limiter=_limiter())


def favour_the_loop() -> None:
    """Let the event loop's thread take the GIL back sooner from heavy threads (called once
    per serving process; it is process-wide)."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
