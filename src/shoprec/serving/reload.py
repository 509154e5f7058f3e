"""Artifact hot reload by checkpoint: a watcher notices a newly published checkpoint folder
(its manifest's modification time) and installs what it rebuilds from it. The review sentiment
model switches this way (``serving/sentiment.py``); the recommendation models follow the
store's published bundle instead (``serving/bundles.py``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def artifact_stamp(path: Path) -> float:
    """Modification time of the checkpoint's manifest (written last by a training run)."""
    manifest = path / "manifest.json"
    return manifest.stat().st_mtime if manifest.is_file() else 0.0


class ArtifactWatcher:
    """Poll ``paths`` every ``interval`` seconds; when one has a stamp newer than any seen,
    ``rebuild(that path)`` and ``install`` what it returned (``engine.set_bundle`` for the
    models, ``engine.switch_sentiment`` for the sentiment model).

    A failed rebuild is logged and the engine keeps serving what it served. ``stamp``
    (default: the newest stamp now) is the publication already served.
    """

    def __init__(
        self,
        paths: Path | Sequence[Path],
        rebuild: Callable[[Path], Any],
        install: Callable[[Any], None],
        interval: float = 5.0,
        stamp: float | None = None,
        name: str = "artifact-watcher",
    ) -> None:
        self.paths = [paths] if isinstance(paths, Path) else list(paths)
        self.rebuild, self.install, self.interval = rebuild, install, interval
        self.path = self.paths[0]  # the checkpoint serving now
        self.stamp = max(artifact_stamp(p) for p in self.paths) if stamp is None else stamp
        self.reloads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> ArtifactWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Reload if a watched checkpoint was published since; returns whether a new bundle
        was swapped in."""
        stamp, path = max((artifact_stamp(p), p) for p in self.paths)
        if stamp <= self.stamp:
            return False
        try:
            new = self.rebuild(path)
            self.install(new)
        except Exception:
            log.exception("reloading %s failed; keeping the current models", path)
            return False
        self.stamp, self.path = stamp, path
        self.reloads += 1
        log.info("hot-reloaded models from %s (version %s)", path, getattr(new, "version", "?"))
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
