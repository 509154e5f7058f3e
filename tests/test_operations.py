"""Operations (issue 24): ``/readyz`` apart from ``/healthz`` (503 with the reason while the
store does not answer), a request id accepted or made and echoed, one JSON access-log line per
request, and ``/metrics`` whose counters are counters, incremented, and summed over worker
processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from shoprec.serving.observe import ACCESS_LOGGER, configure_access_log
from shoprec.serving.routes.ops import _checks


def _value(metrics: str, sample: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(sample + " ") or line.startswith(sample + "{") and "}" not in sample:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_readyz_is_200_when_store_and_models_answer(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready" and r.json()["checks"] == {"store": "ok", "model": "ok"}
    assert client.get("/healthz").json()["status"] == "ok"


def test_readyz_is_503_with_the_reason_while_the_store_fails(
    client: TestClient, built, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> int:
        raise OSError("disk I/O error")

    monkeypatch.setattr(built.engine.events, "last_seq", down)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "not ready"
    assert r.json()["checks"]["store"] == "unreachable: OSError: disk I/O error"
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_readyz_says_when_no_model_is_loaded() -> None:
    log = SimpleNamespace(last_seq=lambda: 0)
    engine = SimpleNamespace(events=log, shared=None, bundle=SimpleNamespace(n_rows=0))
    assert _checks(engine) == {"store": "ok", "model": "no model bundle loaded"}  # type: ignore[arg-type]


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "shop-42.a"}).headers["x-request-id"]
        == "shop-42.a"
    )
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a b\tc"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe)  # not echoed into headers and logs


def test_access_log_is_one_json_line_per_request(client: TestClient) -> None:
    out = io.StringIO()
    configure_access_log(True, stream=out)
    try:
        client.get("/v1/users/ops-log-shopper/recommendations?n=2", headers={"X-Request-ID": "r-1"})
        client.get("/v1/items/%00nothing")
    finally:
        configure_access_log(False)
        logger = logging.getLogger(ACCESS_LOGGER)
        logger.propagate, logger.level = True, logging.NOTSET
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "request" and first["level"] == "INFO"
    assert first["request_id"] == "r-1" and first["status"] == 200 and first["method"] == "GET"
    assert first["route"] == "/v1/users/{user_id}/recommendations" and first["query"] == "n=2"
    assert first["duration_ms"] > 0 and "timestamp" in first and first["pid"] > 0
    assert second["status"] == 404 and len(second["request_id"]) == 32


def test_counters_are_counters_and_counted(client: TestClient) -> None:
    before = client.get("/metrics").text
    for name in ("shoprec_http_requests", "shoprec_events", "shoprec_fallbacks"):
        assert f"# TYPE {name}_total counter" in before or f"# TYPE {name} counter" in before
    assert "# TYPE shoprec_request_seconds histogram" in before
    ok = 'shoprec_http_requests_total{method="GET",route="/healthz",status="200"}'
    for _ in range(3):
        client.get("/healthz")
    event = {"user_id": "ops-counter-shopper", "item_id": "nothing", "type": "search", "query": "x"}
    assert client.post("/v1/events", json={"events": [event]}).json()["accepted"] == 1
    after = client.get("/metrics").text
    assert _value(after, ok) == _value(before, ok) + 3
    assert _value(after, "shoprec_events_total") == _value(before, "shoprec_events_total") + 1


WORKERS = """
import os, sys
from types import SimpleNamespace
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
from shoprec.serving.metrics import Metrics
from shoprec.serving.stats import Counters, LiveStats

def engine():
    parts = dict(counters=Counters(), stats=LiveStats(), shared=None, states={}, catalog=[])
    census = SimpleNamespace(shoppers=lambda: 0)
    live = SimpleNamespace(time=SimpleNamespace(ignored=0))  # the clock's ignored-event count
    return SimpleNamespace(
        **parts, bundle=SimpleNamespace(version="v1"), census=census, live=live
    )

for worker in range(2):  # two forked workers answer 3 and 5 requests and accept 7 and 9 events
    pid = os.fork()
    if pid == 0:
        e = engine()
        m = Metrics(e)
        e.counters.events += 7 + 2 * worker
        for _ in range(3 + 2 * worker):
            m.observe("GET", "/healthz", 200, 0.001)
        os._exit(0)
    os.waitpid(pid, 0)
sys.stdout.write(Metrics(engine()).render().decode())
"""


def test_metrics_are_summed_over_worker_processes(tmp_path: Path) -> None:
    """Under workers each process writes its own files; whichever renders sums them all,
    exited workers included (about 1 s: a fresh interpreter, as prometheus-client picks its
    multiprocess mode on import)."""
    script = textwrap.dedent(WORKERS)
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    text = run.stdout
    ok = 'shoprec_http_requests_total{method="GET",route="/healthz",status="200"}'
    assert _value(text, ok) == 8.0
    assert _value(text, "shoprec_events_total") == 16.0
    assert _value(text, 'shoprec_model_info{version="v1"}') == 1.0
    assert 'shoprec_request_seconds_count{method="GET",route="/healthz",status="2xx"} 8.0' in text
