"""``shoprec serve`` as a child process: start it and wait until it answers, stop it, and reach
a given worker. The benchmarks and the tests that run real servers share these."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

import httpx

from shoprec.serving.workers import WORKER_HEADER


def serve(
    args: list[str],
    port: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 1800,
    quiet: bool = False,
) -> subprocess.Popen:
    """``shoprec serve --port PORT --no-verbose ARGS`` (1 BLAS thread), returned once /healthz
    answers. It is killed if it has not within ``timeout`` seconds; if it exits first, its
    stderr (captured when ``quiet``) is raised."""
    cmd = [sys.executable, "-m", "shoprec.cli", "serve", "--port", str(port), "--no-verbose"]
    env = {**os.environ, "SHOPREC_THREADS": "1", **(env or {})}
    out = subprocess.DEVNULL if quiet else None
    err = subprocess.PIPE if quiet else None
    proc = subprocess.Popen(cmd + args, env=env, stdout=out, stderr=err)
    return wait_healthy(proc, port, timeout)


def wait_healthy(proc: subprocess.Popen, port: int, timeout: float = 1800) -> subprocess.Popen:
    """``proc`` once its ``/healthz`` on ``port`` answers; killed if it has not within
    ``timeout`` seconds; if it exits first, its stderr (when captured) is raised."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError("server did not come up")


def stop(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM, then SIGKILL if the server has not exited within ``timeout`` seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def client_on_worker(base: str, avoid: str | None = None) -> tuple[httpx.Client, str]:
    """A one-connection client and the pid of the worker that accepted it (not ``avoid``)."""
    for _ in range(200):
        c = httpx.Client(base_url=base, timeout=10, limits=httpx.Limits(max_connections=1))
        pid = c.get("/healthz").headers[WORKER_HEADER.decode()]
        if pid != avoid:
            return c, pid
        c.close()
    raise AssertionError("every connection landed on the same worker")
