"""N API worker processes on one port, over the shared Redis stores.

The parent builds the engine once (the published bundle loaded, Redis bootstrapped), then
forks the workers: each inherits the loaded artifacts copy-on-write instead of rebuilding them,
opens its own listening socket on the same port with ``SO_REUSEPORT`` (the kernel spreads
connections over the workers) and starts its own background threads (stream follower,
published-bundle watcher: each worker switches to a newly published bundle itself). A worker
that dies is forked again; SIGTERM/SIGINT stop them all. The workers' Prometheus metrics are
summed across them through prometheus-client's multiprocess mode (:func:`share_metrics`).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoprec.serving.build import Built
    from shoprec.settings import Settings

log = logging.getLogger(__name__)

#: Response header naming the worker process that answered (benchmarks and tests route by it).
WORKER_HEADER = b"x-shoprec-worker"


class WorkerHeader:
    """Pure ASGI middleware: every HTTP response says which worker (pid) answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (WORKER_HEADER, self.value)]
            await send(message)

        await self.app(scope, receive, send_wrapper)


def share_metrics() -> Path:
    """Turn prometheus-client's multiprocess mode on for this process and the workers it will
    fork, so that ``/metrics`` sums all workers: ``PROMETHEUS_MULTIPROC_DIR`` (the operator's,
    else a temporary folder removed at exit), emptied of an earlier run's files. Must run
    before ``prometheus_client`` is imported: it picks its value store once, on import."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("share_metrics() must run before prometheus_client is imported")
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):  # an earlier run's counts would be added to ours
            old.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="shoprec-metrics-"))
        atexit.register(shutil.rmtree, folder, True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other workers may bind too."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_replica(built: Built, settings: Settings) -> None:
    """In a freshly forked worker: its own background threads (threads do not survive a fork:
    the stream follower, the published-bundle watcher) and its own SQLite handles (they must
    not cross one)."""
    from shoprec.serving.build import attach_experiments, watch_store
    from shoprec.serving.shared import StreamFollower

    shared = built.engine.shared
    assert shared is not None and built.store_dir is not None, "workers serve over Redis"
    attach_experiments(built.engine, built.store_dir)
    StreamFollower(shared, built.engine, built.follow_from).start()
    watch_store(built, settings)


def _worker(
    make_app: Callable[[], Any], host: str, port: int, limit_concurrency: int | None
) -> None:
    import uvicorn

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # uvicorn installs its own handlers
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app = WorkerHeader(make_app())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        limit_concurrency=limit_concurrency,
    )
    uvicorn.Server(config).run(sockets=[listen(host, port)])


def serve_workers(
    make_app: Callable[[], Any],
    host: str,
    port: int,
    workers: int,
    limit_concurrency: int | None = None,
) -> None:
    """Fork ``workers`` processes serving ``make_app()`` (called in each, after the fork) on
    ``host:port``; returns when they have all stopped after SIGTERM or SIGINT.
    ``limit_concurrency``: requests in progress per worker beyond which uvicorn answers 503."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no tokenizer pools across fork
    # fail here, in the parent, when anything holds the port (a bind without SO_REUSEPORT
    # fails even beside SO_REUSEPORT sockets: we never join a stranger's port group)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    children: dict[int, float] = {}  # pid -> start time
    stopping = False

    def spawn() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _worker(make_app, host, port, limit_concurrency)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            spawn()
        log.info("%d workers on %s:%d: %s", workers, host, port, sorted(children))
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            started = children.pop(pid, 0.0)
            if stopping:
                continue
            if time.monotonic() - started < 10.0:  # it cannot start: do not fork in a loop
                log.error("worker %d exited at start-up (status %d): stopping", pid, status)
                stop(signal.SIGTERM, None)
                raise SystemExit(1)
            log.warning("worker %d exited (status %d): starting another", pid, status)
            spawn()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
