"""A background round on a daemon thread: what the store follower and the housekeeping round
share (start, stop and wait for the round under way)."""

from __future__ import annotations

import threading
from typing import Self


class Background:
    """Runs :meth:`_run` on a daemon thread named ``name`` from :meth:`start`; ``_run`` loops
    until ``self._stop`` is set (``while not self._stop.wait(interval): ...``)."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (waits for the round under way, up to 10 s)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        raise NotImplementedError
