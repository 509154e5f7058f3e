"""Retraining on a schedule: ``shoprec serve --retrain-every 6h`` (embedded) and the separate
``shoprec trainer --store redis://... --every 6h`` process.

Each run is its own process, ``shoprec train --store S`` (the store's log in, a versioned
bundle out, published when the promotion gate passes), started at a lower CPU priority
(``os.nice``) with one torch/BLAS thread (``SHOPREC_THREADS=1``), so that a server on the same
machine keeps its latency. Serving never waits for it: the servers' bundle watchers
(``serving/bundles.py``) pick the published bundle up. Runs never overlap: the next one starts
``every`` seconds after the previous one started, or as soon as it ends when it ran longer.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: Niceness added to a training run (a server beside it keeps the CPU first).
NICE = 10
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
#: The shortest schedule accepted (a run takes longer than this on any real shop).
MIN_SECONDS = 10.0


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number and a unit (s, m, h, d), or several (``1h30m``).
    ``ValueError`` saying why for anything else, or under :data:`MIN_SECONDS`."""
    value = text.strip().lower()
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit s, m, h or d (30m, 6h, 1h30m)"
        )
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < MIN_SECONDS:
        raise ValueError(f"{text!r} is under the shortest schedule, {MIN_SECONDS:.0f} s")
    return seconds


def train_command(store: str | Path, extra: Sequence[str] = ()) -> list[str]:
    """``shoprec train --store STORE EXTRA`` as this interpreter runs it."""
    return [sys.executable, "-m", "shoprec.cli", "train", "--store", str(store), *extra]


def _lower_priority() -> None:  # in the child, before exec
    os.nice(NICE)


def run_training(store: str | Path, extra: Sequence[str] = (), log_file: Path | None = None) -> int:
    """One training run in its own process at lower priority and one thread; returns its exit
    status. Its output goes to ``log_file`` (appended) or to this process's."""
    env = {**os.environ, "SHOPREC_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    cmd = train_command(store, extra)
    log.info("retraining: %s", " ".join(cmd))
    started = time.perf_counter()
    if log_file is None:
        code = subprocess.call(cmd, env=env, preexec_fn=_lower_priority)  # noqa: S603
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as out:
            code = subprocess.call(  # noqa: S603
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_lower_priority
            )
    took = time.perf_counter() - started
    if code == 0:
        log.info("retraining finished in %.0f s", took)
    else:
        log.error("retraining exited with status %d after %.0f s", code, took)
    return code


class Retrainer:
    """Run :func:`run_training` every ``every`` seconds on a daemon thread (the first run one
    period after start); ``runs`` and ``failures`` count them."""

    def __init__(
        self,
        store: str | Path,
        every: float,
        extra: Sequence[str] = (),
        log_file: Path | None = None,
    ) -> None:
        self.store, self.every, self.extra, self.log_file = store, every, list(extra), log_file
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.loop, name="retrainer", daemon=True)

    def start(self) -> Retrainer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        code = run_training(self.store, self.extra, self.log_file)
        self.runs += 1
        self.failures += code != 0
        return code

    def loop(self, first_now: bool = False) -> None:
        """Until stopped: wait for the next start (at once when ``first_now``), run, repeat."""
        due = time.monotonic() + (0.0 if first_now else self.every)
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due = time.monotonic() + self.every
            self.run_once()
