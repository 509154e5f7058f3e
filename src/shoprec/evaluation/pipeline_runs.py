"""``shoprec evaluate --models pipeline``: the served pipeline replayed offline, with and
without its re-ranking, beside the raw models.

The two phases mirror the sequence model's: the ranker is fitted on validation replays of the
valid-phase models (so the pipeline's validation figures are in-sample for the ranker); test
replays use the final models, as served.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from shoprec.data.interactions import SequenceData
from shoprec.data.splits import leave_one_out
from shoprec.evaluation.runner import ModelRun
from shoprec.settings import Settings

if TYPE_CHECKING:
    from shoprec.models.sasrec_recommender import SASRecRecommender

log = logging.getLogger(__name__)

#: name -> (label, strategy overrides)
PIPELINES = {
    "pipeline": ("served pipeline, default strategy", {}),
    "pipeline-norerank": ("served pipeline, re-ranking off", {"rerank": False}),
}


def pipeline_runs(
    names: list[str],
    data: SequenceData,
    settings: Settings,
    sasrec_run: ModelRun,
) -> list[ModelRun]:
    """One ModelRun per pipeline variant, sharing the models and the ranker."""
    from shoprec.models.ranker import FEATURES
    from shoprec.online.tags import ItemTagger
    from shoprec.ranking.fit import (
        PipelineRecommender,
        build_phase,
        fit_ranker,
        offline_catalog,
    )
    from shoprec.ranking.strategy import Strategy
    from shoprec.text.encoder import TextEncoder
    from shoprec.training.sasrec_job import text_vectors_for

    assert sasrec_run.prefit is not None
    # the sequence model's two fits (the runner's prefit of the "sasrec" run)
    sasrec_valid, sasrec_final = cast(
        "tuple[SASRecRecommender, SASRecRecommender]", sasrec_run.prefit
    )
    text = text_vectors_for(data, settings, progress=False)
    if text is None:
        raise ValueError("the pipeline needs item text")
    catalog = offline_catalog(data, text, ItemTagger(TextEncoder()))
    split = leave_one_out(data.sequences, data.timestamps)
    valid = build_phase(data, catalog, sasrec_valid, split.train, split.train_times())
    ranker = fit_ranker(
        catalog,
        valid.bundle,
        valid.trending,
        split.train,
        split.train_times(),
        split.valid,
        seed=settings.seed,
    )
    valid.bundle.ranker = ranker
    final = build_phase(
        data,
        catalog,
        sasrec_final,
        split.test_histories(),
        split.test_times(),
        ranker,
    )
    weights = dict(zip(FEATURES, ranker.coef_.round(3).tolist(), strict=True))
    log.info("ranker weights: %s", weights)
    runs = []
    for name in names:
        label, overrides = PIPELINES[name]
        strategy = replace(Strategy(), **cast("dict[str, Any]", overrides))
        runs.append(
            ModelRun(
                name=name,
                build=lambda p: None,  # type: ignore[arg-type,return-value]
                prefit=(
                    PipelineRecommender(catalog, valid, strategy),
                    PipelineRecommender(catalog, final, strategy),
                ),
                label=label,
            )
        )
    return runs
