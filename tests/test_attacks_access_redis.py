"""Issue 23, Why 5 over Redis: two workers share one rate limit. Each worker had its own
limiter, so a caller spreading requests over the workers got a burst per worker; the windows
now live in the shop's Redis (a private ``redis-server``: see ``redis_fixtures``)."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from redis_fixtures import RedisServer
from serving_fixtures import free_port, serve_synthetic
from shoprec.serving.workers import WORKER_HEADER

BURST = 12  # in any 12 s (rate 1/s): the test sends its requests well within one window


def test_two_workers_share_one_window_through_redis(
    built,  # noqa: ANN001
    serving_root: Path,
    tmp_path: Path,
) -> None:
    redis = RedisServer(tmp_path).start()
    env = {
        "SHOPREC_WRITE_KEYS": "w-key",
        "SHOPREC_RATE_LIMIT_PER_S": "1",
        "SHOPREC_RATE_LIMIT_BURST": str(BURST),
    }
    port = free_port()
    proc = serve_synthetic(serving_root, ["--store", redis.url, "--workers", "2"], port, env=env)
    try:
        codes, workers = [], set()
        for _ in range(3 * BURST):  # a new connection each: the kernel spreads them
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                r = c.get("/v1/search?q=cream&n=1", headers={"X-API-Key": "w-key"})
            codes.append(r.status_code)
            workers.add(r.headers.get(WORKER_HEADER.decode()))
        assert len(workers) == 2, "every connection landed on one worker: nothing was shared"
        assert codes.count(200) == BURST and set(codes[BURST:]) == {429}, codes
        assert int(r.headers["retry-after"]) >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        redis.kill()
