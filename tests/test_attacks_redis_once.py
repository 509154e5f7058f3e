"""Issue 23, Why 8 and Done-when 4: over Redis with two workers, a stream of events with and
without ``event_id`` while Redis stalls (``DEBUG SLEEP`` longer than the client's timeout: the
client's retry meets its first attempt still queued, and both run) and is killed and restarted
(AOF, fsync always): every acknowledged event is stored exactly once with its content, and no
event twice. The old append stored an event without an id once per attempt. A few thousand
events here; ``bench/redis_exactly_once.py`` runs the same check on 100,000."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_fixtures import RedisServer, start_shop
from shoprec.serving.process import client_on_worker
from shoprec.serving.process import stop as stop_shop

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
once = importlib.import_module("redis_exactly_once")  # bench/: the same run, 100k events


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis-once")).start()
    yield server
    server.kill()


@pytest.mark.timeout(300)
def test_every_acknowledged_event_is_stored_once_through_stalls_and_a_restart(
    built, serving_root: Path, redis_server: RedisServer
) -> None:
    proc, base = start_shop(serving_root, redis_server.url, workers=2)
    try:
        a, pid = client_on_worker(base)
        b, _ = client_on_worker(base, avoid=pid)
        report = once.run([a, b], redis_server, redis_server.url, 3000, 50, "once", pace_s=0.3)
        a.close()
        b.close()
    finally:
        stop_shop(proc)
    chaos = report["chaos"]
    # the run met both kinds of trouble, and some calls were refused because of them
    assert any("stall" in c for c in chaos) and any("restarted" in c for c in chaos), chaos
    assert report["answers"].get("503", 0) > 0, report
    assert report["acknowledged"] > 0 and report["lost"] == 0, report
    assert report["stored_twice_or_more"] == 0, report
    assert report["content_changed"] == 0 and report["unknown"] == 0, report
    assert report["ok"], report
