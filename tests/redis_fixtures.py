"""A private ``redis-server`` per test (never the shared one on 6379, which other tests flush),
with AOF so that an acknowledged write survives killing it, and a served shop over it."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from serving_fixtures import free_port, serve_synthetic


class RedisServer:
    """``redis-server`` on a free loopback port, data (AOF, fsync always) under ``dir``."""

    def __init__(self, dir: Path) -> None:
        self.dir, self.port = dir, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError:
            pytest.fail("redis-server is not installed (CI installs it)", pytrace=False)
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
    port = free_port()
    proc = serve_synthetic(serving_root, ["--store", store_url, "--workers", str(workers)], port)
    return proc, f"http://127.0.0.1:{port}"
