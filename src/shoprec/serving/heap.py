"""The garbage collector of a serving process, set once the engine is built.

CPython's cyclic collector runs a young collection every 700 net new container objects and a
full one when the survivors grow by a quarter. A 1,000-event ingestion request holds about
8,000 containers at once (parsed JSON, validated models, events, rows), so young collections
ran several times per request and promoted that request's objects, still in use, to the old
generations; those promotions then set off full collections, each walking every shopper's
state lists (about 80 ms with 22,000 shoppers). Raising the young threshold keeps one request's
objects young while they are in use (the measurements: bench/results/heap.md).
"""

from __future__ import annotations

import gc

#: Young collection after 50,000 net new containers (the default, 700, is below one request's
#: working set); the older generations keep their default ratios.
THRESHOLDS = (50_000, 10, 10)


def settle() -> None:
    """Collect once, freeze what exists (the built engine: about 650,000 long-lived objects
    that no collection need walk again, and that forked workers keep sharing), and set
    :data:`THRESHOLDS`. Call when the engine is built, before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
