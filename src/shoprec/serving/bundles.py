"""Serving the published bundle: loaded as is at start-up (no training), then hot-reloaded.

Training (``shoprec train --store``, a ``--retrain-every`` run, ``shoprec bundles promote``)
saves a versioned bundle beside the store and moves the store's *published pointer* (a file in
the store folder, or a Redis key every replica reads). Every serving process (the embedded
server, each ``--workers`` process, each replica over Redis) runs one :class:`BundleWatcher`:
it polls the pointer (a stat or a GET) every couple of seconds and, when it names another
version, loads that bundle and aligns it to the live catalog in a separate process at a lower
priority (the neighbour tables are seconds of CPU on a real catalog; a server under load keeps
its latency meanwhile), then swaps it in with one reference assignment (``Engine.set_bundle``):
requests in flight finish on the bundle they started with, none fails, no restart is needed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from shoprec.ranking.bundle import ModelBundle

if TYPE_CHECKING:
    from shoprec.ranking.bundle_shelf import BundleShelf
    from shoprec.ranking.catalog import Catalog
    from shoprec.serving.engine import Engine

log = logging.getLogger(__name__)

#: Seconds between two reads of the published pointer.
POLL_SECONDS = 2.0
#: A version that failed to load is tried again after this many seconds (not at every poll).
RETRY_SECONDS = 60.0
#: Niceness of the process that aligns a newly published bundle (the server's requests first).
NICE = 5
#: Catalogs at least this large are aligned in a separate process (smaller: milliseconds of
#: work, less than starting a process).
APART_ITEMS = 2000


class BundleWatcher:
    """Poll ``published()`` every ``interval`` seconds; when it names a version other than the
    one served, ``install(load(version))``. A failed load is logged, counted and retried after
    :data:`RETRY_SECONDS`; the engine keeps serving what it served."""

    def __init__(
        self,
        published: Callable[[], str | None],
        load: Callable[[str], ModelBundle],
        install: Callable[[ModelBundle], None],
        served: str | None,
        interval: float = POLL_SECONDS,
        on_reload: Callable[[bool], None] | None = None,
    ) -> None:
        self.published, self.load, self.install = published, load, install
        self.version, self.interval, self.on_reload = served, interval, on_reload
        self.reloads = 0
        self.failures = 0
        self._failed: tuple[str, float] | None = None  # (version, when) of the last failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bundle-watcher", daemon=True)

    def start(self) -> BundleWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Switch to the published bundle if it is not the one served; returns whether a new
        bundle was swapped in."""
        try:
            version = self.published()
        except Exception:  # the store unreachable a moment: keep serving, ask again later
            log.warning("reading the published bundle pointer failed", exc_info=True)
            return False
        if version is None or version == self.version:
            return False
        failed = self._failed
        if failed is not None and failed[0] == version and time.monotonic() < failed[1]:
            return False
        started = time.perf_counter()
        try:
            bundle = self.load(version)
            self.install(bundle)
        except Exception:
            log.exception("loading bundle %s failed; keeping %s", version, self.version)
            self.failures += 1
            self._failed = (version, time.monotonic() + RETRY_SECONDS)
            if self.on_reload is not None:
                self.on_reload(False)
            return False
        log.info(
            "serving bundle %s (was %s), loaded in %.1f s",
            version,
            self.version,
            time.perf_counter() - started,
        )
        self.version, self._failed = version, None
        self.reloads += 1
        if self.on_reload is not None:
            self.on_reload(True)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()


class CatalogSnapshot:
    """What aligning a bundle reads of the live catalog (its ids and text vectors), copied to
    the process that aligns it."""

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.ids, self.vectors = ids, vectors
        self.index = {x: i for i, x in enumerate(ids) if i}  # row 0 is padding

    def __len__(self) -> int:
        return len(self.ids) - 1

    def view(self) -> CatalogSnapshot:  # build_bundle reads view().vectors
        return self


def _die_with_parent(parent: int) -> None:
    """End this process when the server that started it ends (no orphan aligning on): Linux's
    parent-death signal, and at once if the server ended while this one was starting."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the check below only
        pass
    if os.getppid() != parent:
        os._exit(1)


def _align_apart(parent: int, path: str, ids: list[str], vectors: np.ndarray) -> ModelBundle:
    """In the aligning process: at a lower priority, one BLAS thread."""
    from threadpoolctl import threadpool_limits

    from shoprec.ranking.bundle_io import align, load_bundle

    _die_with_parent(parent)
    os.nice(NICE)
    threadpool_limits(1)
    return align(load_bundle(Path(path)), cast("Catalog", CatalogSnapshot(ids, vectors)))


def load_published(
    shelf: BundleShelf, engine: Engine, version: str, apart: bool = False
) -> ModelBundle:
    """The shelf's bundle ``version`` aligned to the engine's live catalog. ``apart``: in a
    separate process at a lower priority (seconds of CPU for a catalog of 10,000 items: the
    neighbour tables), so that a server under load keeps its latency while it switches; only
    the result is copied back. Items added meanwhile are covered by ``Engine.set_bundle``."""
    from shoprec.ranking.bundle_io import align

    if not apart:
        return align(shelf.load(version), engine.catalog)
    catalog = engine.catalog
    ids = list(catalog.ids)  # first: the vectors' rows cover at least these
    vectors = np.array(catalog.view().vectors[: len(ids)])
    spawn = multiprocessing.get_context("spawn")  # no fork of a threaded server
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        job = pool.submit(_align_apart, os.getpid(), str(shelf.path(version)), ids, vectors)
        return job.result()


def watch_published(
    engine: Engine, shelf: BundleShelf, interval: float = POLL_SECONDS
) -> BundleWatcher:
    """A started :class:`BundleWatcher` that keeps ``engine`` on ``shelf``'s published bundle
    (counted in ``engine.counters``: reloads, failed reloads)."""

    def counted(ok: bool) -> None:
        if ok:
            engine.counters.reloads += 1
        else:
            engine.counters.reload_failures += 1

    return BundleWatcher(
        shelf.published,
        lambda v: load_published(shelf, engine, v, apart=len(engine.catalog) >= APART_ITEMS),
        engine.set_bundle,
        engine.bundle.version,
        interval,
        counted,
    ).start()
