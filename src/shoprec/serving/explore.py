"""Exploration traffic of an ``explore`` experiment: beside the served list, the list every
other variant would have shown in the same request is computed and logged (off-policy tuning
needs them). Only requests of a running ``explore`` experiment pay for it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shoprec.experiments.offpolicy import diversity
from shoprec.experiments.records import Assignment
from shoprec.ranking.pipeline import Result
from shoprec.ranking.strategy import Strategy
from shoprec.serving.engine import Engine


def log_variants(
    engine: Engine,
    arm: Assignment,
    user_key: str,
    served: Result,
    recommend: Callable[[Strategy], Result],
) -> str | None:
    """Log ``served`` (the list of ``arm``) with every other variant's list for the same
    request (``recommend(strategy)``); returns the request id feedback should name."""
    exp = engine.experiments.running
    if exp is None or exp.name != arm.experiment:
        return None
    names = [name for name, _ in exp.variants]
    k = names.index(arm.variant)
    results = [served if j == k else recommend(st) for j, (_, st) in enumerate(exp.variants)]
    vectors = engine.catalog.view().vectors
    ids = engine.catalog.ids
    idx = [np.array([r.index for r in res.items], np.int64) for res in results]
    lists = [[ids[i] for i in row] for row in idx]
    div = [diversity(vectors, row) for row in idx]
    return engine.experiments.log_exploration(user_key, lists, k, div)
