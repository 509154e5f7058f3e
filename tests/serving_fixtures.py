"""A served engine over the synthetic shop, built once per test session (about 30 s)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from shoprec.data.datasets import load_dataset
from shoprec.data.interactions import SequenceData
from shoprec.online.tags import ItemTagger
from shoprec.serving.build import Built, build_engine
from shoprec.serving.engine import Engine
from shoprec.serving.process import serve
from shoprec.settings import Settings
from shoprec.store import MemoryStateStore, open_embedded
from shoprec.text.vectorizer import Vectorizer

_CACHE: dict[str, Built] = {}


def synthetic_settings(root: Path) -> Settings:
    return Settings(artifacts_dir=root / "artifacts", text_cache=root / "artifacts" / "text.npz")


def synthetic_engine(root: Path, store: Path | None = None) -> Built:
    """The synthetic shop's engine; models are trained once under ``root`` and reused."""
    settings = synthetic_settings(root)
    data = load_dataset("synthetic", settings)
    # the review sentiment model is shared with the other tests (trained once, under artifacts/)
    from conftest import make_settings

    return build_engine(
        data,
        settings,
        store=store,
        quick=True,
        train_seconds=20,
        progress=False,
        sentiment_settings=make_settings(),
    )


def catalog_engine(data: SequenceData, settings: Settings, store: Path) -> Engine:
    """An engine with the dataset's catalog and no trained models (search needs none)."""
    vec = Vectorizer(settings)
    events, items = open_embedded(store)
    engine = Engine(events, items, MemoryStateStore(), vec, ItemTagger(vec.encoder))
    engine.upsert_items(data.catalog, now=0.0)
    return engine


def free_port() -> int:
    """A TCP port free on loopback now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    """Run ``app`` under uvicorn in a background thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve_synthetic(
    serving_root: Path, args: list[str], port: int, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """``shoprec serve --dataset synthetic --quick --port PORT ARGS`` as a real subprocess on
    the models the session's ``built`` fixture trained under ``serving_root``, returned once
    /healthz answers (its stderr is raised if it dies first); ``env`` adds variables."""
    env = {
        "SHOPREC_ARTIFACTS_DIR": str(serving_root / "artifacts"),
        "SHOPREC_TEXT_CACHE": str(serving_root / "artifacts" / "text.npz"),
        **(env or {}),
    }
    args = ["--dataset", "synthetic", "--quick", *args]
    return serve(args, port, env=env, timeout=180, quiet=True)


@contextmanager
def served_store(serving_root: Path, store: Path) -> Iterator[str]:
    """``serve_synthetic`` over the embedded store folder ``store`` on a free port; yields its
    base URL and stops it (SIGTERM) afterwards."""
    import signal

    port = free_port()
    proc = serve_synthetic(serving_root, ["--store", str(store)], port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def on_the_wall_clock(engine: Engine) -> Iterator[None]:
    """Serve the session's shared engine on the wall clock, as a live shop runs, for the length
    of the block. What was stored meanwhile is stamped with wall times; back on the data clock,
    now is at least the wall time (as the old clock's maximum was), so that no later test sees
    stored events ahead of its clock."""
    clock = engine.live.time
    mode, clock.mode = clock.mode, "wall"
    try:
        yield
    finally:
        clock.mode, clock.latest = mode, max(clock.latest, time.time())
