"""The server as a real subprocess: stream acknowledged events, ``kill -9`` it mid-stream,
restart it on the same store: no acknowledged event is missing and user state is rebuilt.

The server runs the default durability (``fsync``). The ``os`` setting gets the same kill -9 at
the event-log level (``tests/test_store.py::test_acknowledged_batches_survive_kill_9``), and the
server is shown to open its log with it below: a second whole-server run would test the same
thing again for a minute and a half of the suite."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from serving_fixtures import free_port, serve_synthetic, synthetic_engine
from shoprec.store import open_embedded

#: ``PRAGMA synchronous`` for each setting: FULL, NORMAL.
SYNCHRONOUS = {"fsync": 2, "os": 1}


def start(serving_root: Path, store: Path, port: int, durability: str) -> subprocess.Popen:
    env = {"SHOPREC_DURABILITY": durability}
    return serve_synthetic(serving_root, ["--store", str(store)], port, env)


def _synchronous(engine) -> int:
    return int(engine.events._db().execute("PRAGMA synchronous").fetchone()[0])


def test_server_build_opens_the_log_with_the_setting(
    built, serving_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store opened the way ``shoprec serve`` opens it (``build_engine`` on settings read
    from the environment) runs the event log at the setting's ``synchronous`` level: the
    session's engine (the default unless the variable is set), one more build under ``os``."""
    assert _synchronous(built.engine) == SYNCHRONOUS[os.environ.get("SHOPREC_DURABILITY", "fsync")]
    monkeypatch.setenv("SHOPREC_DURABILITY", "os")
    engine = synthetic_engine(serving_root, tmp_path).engine  # reuses the session's models
    try:
        assert _synchronous(engine) == SYNCHRONOUS["os"]
    finally:
        engine.events.close()
        engine.items.close()


@pytest.mark.timeout(600)
def test_kill_9_loses_no_acknowledged_event(built, serving_root: Path, tmp_path: Path) -> None:
    durability = "fsync"
    port = free_port()
    items = built.data.items.to_list()
    proc = start(serving_root, tmp_path, port, durability)
    acked: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        k = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            while not stop.is_set():
                batch = [
                    {
                        "user_id": f"k{j % 7}",
                        "item_id": items[(k + j) % len(items)],
                        "type": "view",
                        "event_id": f"kill-{k + j}",
                    }
                    for j in range(25)
                ]
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    acked.extend(e["event_id"] for e in batch)
                k += 25

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(3.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    t.join()
    assert len(acked) > 100, "the stream should have been acknowledged for a while"
    log, _ = open_embedded(tmp_path)
    stored = {e.event_id for _, e in log.replay()}
    log.close()
    missing = [e for e in acked if e not in stored]
    assert missing == [], f"{len(missing)} acknowledged events lost"
    # restart: every user's state is rebuilt from the log
    proc = start(serving_root, tmp_path, port, durability)
    try:
        prof = httpx.get(f"http://127.0.0.1:{port}/v1/users/k0/profile").json()
        ours = [e for e in acked if int(e.split("-")[1]) % 25 % 7 == 0]
        assert prof["n_events"] >= len(ours) and prof["recent"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
