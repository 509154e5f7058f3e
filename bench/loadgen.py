"""A lean HTTP/1.1 load generator on raw asyncio streams (keep-alive connections).

httpx costs about a millisecond of client CPU per request; on this 2-core machine the client
shares the cores with the server, so a heavy client inflates the server's measured latency.
This one writes the request bytes itself and reads ``Content-Length`` bodies.

Open loop (:func:`fixed_rate`): request ``k`` is due at ``t0 + k / rate`` whatever the earlier
ones are doing, and its latency is counted from when it was due, not from when a connection
became free, so queueing is never hidden (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            return await self._request(method, path, body)
        except ConnectionError:
            if not reused:
                raise
            # the server closed an idle keep-alive connection (uvicorn: after 5 s); like any
            # HTTP client, send again once on a fresh connection
            return await self._request(method, path, body)

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        assert self.reader is not None
        try:
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("server closed the connection")
            status = int(status_line.split(b" ", 2)[1])
            length, close = 0, False
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            data = await self.reader.readexactly(length) if length else b""
        except Exception:
            self.close()
            raise
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


Check = Callable[[int, bytes], bool]


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    seconds: float = 0.0
    error_kinds: Counter[str] = field(default_factory=Counter)  # "status 503", "OSError", ...

    async def get(self, conn: Connection, path: str, check: Check, since: float) -> None:
        """One GET on ``conn``, its latency counted from ``since``, a failure by its kind."""
        try:
            status, body = await conn.request("GET", path)
            ok = check(status, body)
            kind = f"status {status}" if status != 200 else "bad body"
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            ok, kind = False, type(exc).__name__
        self.latencies.append(time.perf_counter() - since)
        if not ok:
            self.errors += 1
            self.error_kinds[kind] += 1

    def summary(self) -> dict[str, float]:
        a = np.asarray(self.latencies) * 1000.0
        out: dict[str, float] = {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.seconds,
            "achieved_rps": self.requests / self.seconds if self.seconds else 0.0,
        }
        if self.error_kinds:
            out["error_kinds"] = dict(self.error_kinds)  # type: ignore[assignment]
        if len(a):
            out |= {f"p{q}": float(np.percentile(a, q)) for q in (50, 90, 99, 99.9)}
            out["mean"] = float(a.mean())
            out["max"] = float(a.max())
        return out


def _ok(status: int, body: bytes) -> bool:
    return status == 200


async def fixed_rate(
    host: str,
    port: int,
    path_for: Callable[[], str],
    rate: float,
    seconds: float,
    check: Check = _ok,
    max_connections: int = 256,
) -> Outcome:
    """Open loop at ``rate`` requests/s for ``seconds``; latency counted from each due time."""
    idle: list[Connection] = []
    out = Outcome()
    n = int(rate * seconds)
    sem = asyncio.Semaphore(max_connections)

    async def one(due: float, path: str) -> None:
        async with sem:
            conn = idle.pop() if idle else Connection(host, port)
            await out.get(conn, path, check, since=due)
            if conn.writer is not None:
                idle.append(conn)

    t0 = time.perf_counter()
    tasks = []
    for k in range(n):
        due = t0 + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, path_for())))
    await asyncio.gather(*tasks)
    out.seconds = time.perf_counter() - t0
    out.requests = n
    for c in idle:
        c.close()
    return out


async def closed_loop(
    host: str,
    port: int,
    path_for: Callable[[], str],
    connections: int,
    seconds: float,
    check: Check = _ok,
) -> Outcome:
    """``connections`` clients each sending the next request as soon as the last answers."""
    out = Outcome()
    end = time.perf_counter() + seconds

    async def client() -> None:
        conn = Connection(host, port)
        while time.perf_counter() < end:
            await out.get(conn, path_for(), check, since=time.perf_counter())
            out.requests += 1
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    out.seconds = time.perf_counter() - t0
    return out
