"""Artifact hot reload: a watcher notices a newly published sequence-model checkpoint and
swaps a rebuilt model bundle into the engine; requests in flight keep the old one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from shoprec.serving.engine import Engine
from shoprec.serving.models import ModelBundle

log = logging.getLogger(__name__)


def artifact_stamp(path: Path) -> float:
    """Modification time of the checkpoint's manifest (written last by a training run)."""
    manifest = path / "manifest.json"
    return manifest.stat().st_mtime if manifest.is_file() else 0.0


class ArtifactWatcher:
    """Poll ``path`` every ``interval`` seconds; on a new stamp, ``rebuild(path)`` and swap.

    A failed rebuild is logged and the engine keeps serving the previous bundle.
    """

    def __init__(
        self,
        engine: Engine,
        path: Path,
        rebuild: Callable[[Path], ModelBundle],
        interval: float = 5.0,
    ) -> None:
        self.engine, self.path, self.rebuild, self.interval = engine, path, rebuild, interval
        self.stamp = artifact_stamp(path)
        self.reloads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="artifact-watcher", daemon=True)

    def start(self) -> ArtifactWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Reload if the artifacts changed; returns whether a new bundle was swapped in."""
        stamp = artifact_stamp(self.path)
        if stamp <= self.stamp:
            return False
        try:
            bundle = self.rebuild(self.path)
        except Exception:
            log.exception("reloading %s failed; keeping the current models", self.path)
            return False
        self.engine.set_bundle(bundle)
        self.stamp = stamp
        self.reloads += 1
        log.info("hot-reloaded models from %s (version %s)", self.path, bundle.version)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
