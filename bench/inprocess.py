"""An engine built in this process for the in-process benches (no server, no sockets): the
quick preset on a dataset, over an embedded store in a temporary folder, with one BLAS thread
as ``shoprec serve`` runs (trained on first use, then reused from ``artifacts/``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from threadpoolctl import threadpool_limits

from shoprec.data.datasets import load_dataset
from shoprec.data.interactions import SequenceData
from shoprec.serving.build import build_engine
from shoprec.serving.engine import Engine
from shoprec.settings import Settings


@contextmanager
def quick_engine(dataset: str) -> Iterator[tuple[SequenceData, Engine]]:
    """The dataset and a serving engine on it; the store is removed on exit."""
    threadpool_limits(1)
    data = load_dataset(dataset)
    with tempfile.TemporaryDirectory() as store:
        built = build_engine(data, Settings(), store_dir=Path(store), quick=True, progress=False)
        yield data, built.engine
