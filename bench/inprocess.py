"""An engine built in this process for the in-process benches (no server, no sockets): the
quick preset on a dataset, over an embedded store in a temporary folder, with one BLAS thread
as ``shoprec serve`` runs (trained on first use, then reused from ``artifacts/``); and the
stand-in engines that bound a feed's cost (:func:`bare_feeds`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from threadpoolctl import threadpool_limits

from shoprec.data.datasets import load_dataset
from shoprec.data.interactions import SequenceData
from shoprec.ranking.candidates import _top
from shoprec.ranking.pipeline import Recommended, Result
from shoprec.serving.build import build_engine
from shoprec.serving.engine import Engine
from shoprec.settings import Settings


@contextmanager
def quick_engine(dataset: str) -> Iterator[tuple[SequenceData, Engine]]:
    """The dataset and a serving engine on it; the store is removed on exit."""
    threadpool_limits(1)
    data = load_dataset(dataset)
    with tempfile.TemporaryDirectory() as store:
        built = build_engine(data, Settings(), store=Path(store), quick=True, progress=False)
        yield data, built.engine


def bare_feeds(engine: Engine, user_id: str) -> dict[str, Callable[..., Result]]:
    """Stand-ins for ``engine.recommend`` that bound what any home-feed pipeline could cost:
    ``"stubbed"`` returns a fixed 20-item answer (the route alone: the request parsed, the
    response built and sent), ``"model-only"`` runs the one model a personalised feed cannot
    skip (the shopper's history through the transformer, the catalog scored, the top ``n``
    taken) and nothing else: no other source, no ranker, no filters, no re-ranking, no reasons."""
    fixed = engine.recommend(user_id, 20)
    encoder = engine.bundle.encoder
    assert encoder is not None

    def model_only(user_id: str, n: int = 20, *_: object, **__: object) -> Result:
        req = engine.request_for(engine.states.get(user_id))
        hist = req.history[req.history < engine.bundle.n_rows]
        top = _top(encoder.scores(hist, req.times[-len(hist) :]), n) if len(hist) else []
        return Result([Recommended(int(i), 0.0, []) for i in top], None)

    return {"stubbed": lambda *_, **__: fixed, "model-only": model_only}
