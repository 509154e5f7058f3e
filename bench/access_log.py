"""What a request's id, metrics and JSON access-log line cost (issue 24, operations): the
trivial endpoint ``GET /healthz`` driven in process straight through the ASGI app (no
socket, no HTTP client, so the middleware's share is not hidden by them), with the access log
on (one JSON line per request, written to /dev/null) and off, interleaved rounds; the
difference is what ``SHOPREC_ACCESS_LOG=true`` adds to every request.

    .venv/bin/python bench/access_log.py [--requests 20000] [--rounds 5]

Writes ``bench/results/access_log.json`` and ``access_log.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from shoprec.serving.app import create_app
from shoprec.serving.observe import configure_access_log

OUT = Path(__file__).parent / "results"


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln), "?")


def stub_engine() -> SimpleNamespace:
    """/healthz reads only the catalog's size and the bundle's version."""
    from shoprec.serving.stats import Counters, LiveStats

    bundle = SimpleNamespace(version="bench", n_rows=1)
    return SimpleNamespace(
        catalog=[], bundle=bundle, counters=Counters(), stats=LiveStats(), shared=None
    )


async def drive(app, n: int) -> float:  # noqa: ANN001
    """Seconds per request for ``n`` sequential GET /healthz through the ASGI app."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    t0 = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    app = create_app(stub_engine())  # type: ignore[arg-type]
    sink = open("/dev/null", "w")  # noqa: SIM115
    asyncio.run(drive(app, 2000))  # warm
    per: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            configure_access_log(mode == "on", stream=sink)
            per[mode].append(asyncio.run(drive(app, args.requests)) * 1e6)
    configure_access_log(False)
    med = {k: float(np.median(v)) for k, v in per.items()}
    result = {
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "us_per_request": per,
        "median_us": med,
        "access_log_adds_us": med["on"] - med["off"],
        "cpu": cpu_model(),
        "load_average_1min": os.getloadavg()[0],
        "python": platform.python_version(),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "access_log.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(
        f"| {mode} | {med[mode]:.1f} | {' / '.join(f'{x:.1f}' for x in per[mode])} |"
        for mode in ("off", "on")
    )
    (OUT / "access_log.md").write_text(
        f"""# The JSON access log's cost per request

`GET /healthz` driven {args.requests:,} times per round straight through the ASGI app (no
socket, no HTTP client), {args.rounds} interleaved rounds per mode, one process, on
{result["cpu"]} (Python {result["python"]}; 1-minute load average
{result["load_average_1min"]:.1f} when it ended: the machine was shared, so absolute figures
are inflated; the two modes ran interleaved, round by round, so their difference is the
comparison). Every request goes through the same middleware (request id, metrics, body
limit, shedding); "on" also writes the JSON line (python-json-logger's orjson formatter; its
json-module formatter measured 2.5x slower per line) to /dev/null.

| access log | median µs per request | per round |
|---|---|---|
{rows}

The access log adds **{result["access_log_adds_us"]:.1f} µs** per request. For scale, the
whole trivial request through a real server and HTTP client costs several hundred µs
(`bench/results/serving.md`).

Reproduce: `.venv/bin/python bench/access_log.py --requests {args.requests} --rounds {args.rounds}`
"""
    )
    print(json.dumps(med), f"adds {result['access_log_adds_us']:.1f} us")


if __name__ == "__main__":
    main()
