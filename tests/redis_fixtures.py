"""A private ``redis-server`` per test (never the shared one on 6379, which other tests flush),
with AOF so that an acknowledged write survives killing it, and a served shop over it; and what
a test says when Redis is missing (:func:`missing_redis`, also applied by ``conftest.py`` to the
tests of the shared server)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
import redis

#: the shared server of the store contract tests (``make test`` and ``.ci/run`` start it)
SHARED_REDIS_URL = os.environ.get("SHOPREC_TEST_REDIS", "redis://127.0.0.1:6379/15")

NEEDS_REDIS = (
    "these tests need Redis: the Redis stores are tested against a real server. Install the "
    "Debian package redis-server (`make test` then starts it on 127.0.0.1:6379)"
)


def missing_redis(what: str) -> NoReturn:
    """Skip the calling test saying what is missing, why and what to install; under
    ``SHOPREC_REQUIRE_DATA=1`` (CI) fail instead: CI must not pass by skipping."""
    from conftest import make_settings

    if make_settings().require_data:
        pytest.fail(f"SHOPREC_REQUIRE_DATA=1 but {what}; {NEEDS_REDIS}", pytrace=False)
    pytest.skip(f"{what}; {NEEDS_REDIS}")


def shared_redis_down(exc: BaseException) -> str | None:
    """If ``exc`` (or an exception it was raised from or during) is a failure to connect to the
    shared server, and that server does not answer now, what is missing; else ``None`` (a
    failure while Redis is up is the test's own)."""
    parts = urlsplit(SHARED_REDIS_URL)
    address = f"{parts.hostname}:{parts.port or 6379}"
    seen: BaseException | None = exc
    while seen is not None and not (
        isinstance(seen, redis.ConnectionError) and address in str(seen)
    ):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    try:
        redis.Redis.from_url(SHARED_REDIS_URL, socket_timeout=1).ping()
    except redis.ConnectionError:
        return f"no Redis answers at {SHARED_REDIS_URL}"
    return None


class RedisServer:
    """``redis-server`` on a free loopback port, data (AOF, fsync always) under ``dir``; DEBUG
    is allowed from loopback (a test stalls it with ``DEBUG SLEEP``)."""

    def __init__(self, dir: Path) -> None:
        from serving_fixtures import free_port  # here: conftest imports this module, kept light

        self.dir, self.port = dir, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)]
        cmd += ["--enable-debug-command", "local"]  # DEBUG SLEEP: a stalled Redis, on demand
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError:
            missing_redis("redis-server is not installed")
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what was fsynced survives."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None


def start_shop(serving_root: Path, store_url: str, workers: int) -> tuple[subprocess.Popen, str]:
    """``shoprec serve`` on the synthetic shop (models trained by the ``built`` fixture) over
    ``store_url`` with ``workers`` processes; returns the process and its base URL."""
    from serving_fixtures import free_port, serve_synthetic

    port = free_port()
    proc = serve_synthetic(serving_root, ["--store", store_url, "--workers", str(workers)], port)
    return proc, f"http://127.0.0.1:{port}"
