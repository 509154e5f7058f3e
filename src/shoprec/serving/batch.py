"""Feeds for many shoppers at once (an e-mail campaign's 10,000): the same answer per shopper
as ``GET /v1/users/{id}/recommendations?n=``, one JSON line each, produced in chunks so that
``POST /v1/recommendations/batch`` streams them from a worker thread and ``shoprec recommend``
writes them to a file with a progress bar."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import orjson

from shoprec.ranking.pipeline import Recommended, Result
from shoprec.serving.engine import Engine
from shoprec.serving.pages import owner_of
from shoprec.serving.recommend import Prepared
from shoprec.serving.schemas.common import recommended_out

#: The most shoppers one batch call names (the route answers 422 beyond it).
MAX_USERS = 10_000
#: Shoppers per chunk: one worker-thread hop per chunk instead of per line, and one stacked
#: sequence-model pass (per history length) for the chunk's shoppers.
CHUNK = 200


def feed_body(engine: Engine, user_id: str, n: int, prepared: Prepared | None = None) -> dict:
    """The single feed call's body for ``user_id`` (no filters, the first page): the running
    experiment's sticky variant serves it as it would the single call, and the list gets its
    own ``recommendation_id`` (a cursor for the next page, as the single call's). Exploration
    traffic is not logged from a batch (no ``request_id``): a campaign's lists are not shown
    at once. ``prepared``: the shopper's state and encoded request, read ahead for the chunk
    (:meth:`~shoprec.serving.recommend.Recommender.prepare`; the same answer, cheaper)."""
    arm = engine.experiments.serve(user_id) if engine.experiments.running is not None else None
    st = arm.strategy if arm else None
    version = engine.bundle.version
    results: list[Result] = []

    def compute(k: int, shown: frozenset[str]) -> list[Recommended]:
        results.append(engine.recommend(user_id, k, None, None, None, [*shown], st, None, prepared))
        return results[-1].items

    ids = engine.catalog.ids
    owner = owner_of(user_id, None, None, None, None, [])
    pg = engine.pages.serve("feed", owner, n, None, None, compute, lambda r: ids[r.index])
    return {
        "user_id": user_id,
        "items": [recommended_out(ids[r.index], r) for r in pg.items],
        "fallback": results[-1].fallback,
        "strategy": arm.strategy.name if arm else engine.pipeline.strategy.name,
        "experiment": arm.experiment if arm else None,
        "variant": arm.variant if arm else None,
        "request_id": None,
        "recommendation_id": pg.recommendation_id,
        "offset": pg.offset,
        "model_version": version,
    }


def feed_chunks(
    engine: Engine, user_ids: Sequence[str], n: int, chunk: int = CHUNK
) -> Iterator[bytes]:
    """JSON lines (``\\n``-terminated) of :func:`feed_body`, ``chunk`` shoppers per item, in
    the order of ``user_ids`` (a repeated id is answered each time). Each chunk's shoppers
    are read and their sequence-model vectors encoded together first, in a helper thread
    while the chunk before is assembled: the encoder's products and the catalog rows run
    outside the GIL, so on two cores they overlap the per-shopper Python."""
    parts = [user_ids[s : s + chunk] for s in range(0, len(user_ids), chunk)]
    if not parts:
        return
    prepare = engine.recommender.prepare
    with ThreadPoolExecutor(1, thread_name_prefix="batch-prepare") as ahead:
        nxt = ahead.submit(prepare, parts[0])
        for k, ids in enumerate(parts):
            ready = nxt.result()
            if k + 1 < len(parts):
                nxt = ahead.submit(prepare, parts[k + 1])
            yield b"".join(orjson.dumps(feed_body(engine, u, n, ready[u])) + b"\n" for u in ids)


def read_user_ids(lines: Iterable[str]) -> list[str]:
    """Shopper ids from CSV text: the ``user_id`` column when the header names one, else the
    first column of every row; blank rows skipped."""
    import csv

    rows = [r for r in csv.reader(lines) if r and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().casefold() for c in rows[0]]
    col, body = (header.index("user_id"), rows[1:]) if "user_id" in header else (0, rows)
    return [r[col].strip() for r in body if len(r) > col and r[col].strip()]
