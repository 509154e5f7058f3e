"""The counting under an experiment registry: a shopper's record and this process's per-variant
totals change in one atomic store update, and a report sums every process's totals.

Records (see :mod:`shoprec.experiments.registry`): ``user:<experiment>:<user key>``,
``totals:<experiment>:<process>`` and ``shards:<experiment>``, the processes that wrote totals.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict

from shoprec.experiments.records import Experiment, Totals, UserRecord, user_record
from shoprec.store.protocols import StateStore


class Ledger:
    """Per-shopper records and per-process totals of experiments in ``store``.

    ``lock`` is the registry's: a change and this process's view of its totals move together.
    """

    def __init__(self, store: StateStore[dict], lock: threading.RLock) -> None:
        self.store = store
        self.shard = uuid.uuid4().hex[:12]  # this process's totals record
        self._mine: dict[str, list[Totals]] = {}  # experiment -> this process's totals
        self._others: dict[str, tuple[float, list[Totals]]] = {}  # the rest, when read
        self._lock = lock

    def change(
        self,
        exp: Experiment,
        user_key: str,
        step: Callable[[UserRecord | None], UserRecord | None],
    ) -> tuple[UserRecord | None, UserRecord | None]:
        """Apply ``step`` to one shopper's record and this process's totals, atomically."""
        with self._lock:
            mine = self._shard(exp)
            after: list[list[Totals]] = []

            def fn(body: dict | None) -> tuple[dict | None, Mapping[str, dict]]:
                old = user_record(body) if body is not None else None
                new = step(old)
                if old is not None and new is not None and old.variant != new.variant:
                    raise RuntimeError("a shopper's variant never changes")
                if new == old:
                    return body, {}
                totals = [Totals.from_dict(t.to_dict()) for t in mine]
                variant = (new or old).variant  # type: ignore[union-attr]
                totals[variant].add(old, new)
                after[:] = [totals]
                shard = {"variants": [t.to_dict() for t in totals]}
                return (asdict(new) if new else None), {f"totals:{exp.name}:{self.shard}": shard}

            old, new = self.store.update(f"user:{exp.name}:{user_key}", fn)
            if after:
                self._mine[exp.name] = after[0]
            return (
                user_record(old) if old is not None else None,
                user_record(new) if new is not None else None,
            )

    def count_list(self, exp: Experiment, variant: int) -> None:
        """One list served by ``variant``: counted in this process's totals only (one record
        per process, however many shoppers ask)."""
        with self._lock:
            totals = [Totals.from_dict(t.to_dict()) for t in self._shard(exp)]
            totals[variant].lists += 1
            shard = {"variants": [t.to_dict() for t in totals]}
            self.store.update(f"totals:{exp.name}:{self.shard}", lambda _old: (shard, {}))
            self._mine[exp.name] = totals

    def _shard(self, exp: Experiment) -> list[Totals]:
        """This process's totals for ``exp``, its shard listed in the store on first use."""
        mine = self._mine.get(exp.name)
        if mine is None:
            shard = self.shard

            def add(old: dict | None) -> tuple[dict, Mapping[str, dict]]:
                ids = list(old["ids"]) if old else []
                return {"ids": [*ids, shard] if shard not in ids else ids}, {}

            self.store.update(f"shards:{exp.name}", add)
            mine = self._mine[exp.name] = [Totals() for _ in exp.variants]
        return mine

    def totals(self, exp: Experiment, max_age: float, fresh: bool = True) -> list[Totals]:
        """Per-variant totals over every process; ``fresh=False`` may reuse the others'
        totals read up to ``max_age`` seconds ago."""
        name = exp.name
        now = time.monotonic()
        cached = self._others.get(name)
        if fresh or cached is None or now - cached[0] >= max_age:
            others = [Totals() for _ in exp.variants]
            shards = self.store.get(f"shards:{name}")
            for sid in shards["ids"] if shards else []:
                body = None if sid == self.shard else self.store.get(f"totals:{name}:{sid}")
                if body is not None:
                    others = [
                        a.merged(Totals.from_dict(b))
                        for a, b in zip(others, body["variants"], strict=True)
                    ]
            cached = self._others[name] = (now, others)
        with self._lock:
            mine = self._mine.get(name) or [Totals() for _ in exp.variants]
            return [a.merged(b) for a, b in zip(cached[1], mine, strict=True)]
