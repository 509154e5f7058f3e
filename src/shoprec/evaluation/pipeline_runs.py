"""``shoprec evaluate --models pipeline``: the served pipeline replayed offline, with and
without its re-ranking, beside the raw models; :class:`PipelineRecommender` puts the pipeline
behind the evaluation contract.

The two phases mirror the sequence model's: the ranker is fitted on validation replays of the
valid-phase models (so the pipeline's validation figures are in-sample for the ranker); test
replays use the final models, as served.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from shoprec.data.interactions import SequenceData, TrainData
from shoprec.evaluation.runner import ModelRun
from shoprec.settings import Settings

if TYPE_CHECKING:  # the CLI lists PIPELINES at start-up: the models load only when run
    from shoprec.models.sasrec_recommender import SASRecRecommender
    from shoprec.ranking.catalog import Catalog
    from shoprec.ranking.fit import ServingPhase
    from shoprec.ranking.strategy import Strategy

log = logging.getLogger(__name__)

#: name -> (label, strategy overrides)
PIPELINES = {
    "pipeline": ("served pipeline, default strategy", {}),
    "pipeline-norerank": ("served pipeline, re-ranking off", {"rerank": False}),
}


class PipelineRecommender:
    """The served pipeline behind the evaluation contract: ``score`` replays each user through
    it and returns a full row where the pipeline's list comes first, in its order, and every
    other item follows in the sequence model's order (so metrics at any cut-off are defined).
    """

    name = "pipeline"
    uses_time = True

    def __init__(self, catalog: Catalog, phase: ServingPhase, strategy: Strategy) -> None:
        from shoprec.ranking.pipeline import Pipeline

        self.catalog, self.phase, self.strategy = catalog, phase, strategy
        self.pipeline = Pipeline(catalog, strategy)
        self.n_list = 50

    def fit(self, data: TrainData) -> PipelineRecommender:  # fitted by fit_phases
        return self

    def score(
        self,
        users: np.ndarray,
        histories: list[np.ndarray],
        timestamps: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        from shoprec.ranking.fit import request
        from shoprec.ranking.rerank import Filters

        b = self.phase.bundle
        out = np.full((len(histories), b.n_rows), -1e9, np.float32)
        for row, h in enumerate(histories):
            t = None if timestamps is None else timestamps[row]
            req = request(self.catalog, h, t, self.phase.now)
            if b.encoder is not None and len(req.history):
                base = b.encoder.scores(req.history, req.times)
                out[row] = np.where(np.isfinite(base), base - 1e6, -1e9)
            filters = Filters(exclude=frozenset(np.asarray(h).tolist()), in_stock_only=False)
            res = self.pipeline.recommend(b, self.phase.trending, req, self.n_list, filters)
            for k, r in enumerate(res.items):
                out[row, r.index] = 1e6 - k
        out[:, 0] = -np.inf
        return out


def pipeline_runs(
    names: list[str],
    data: SequenceData,
    settings: Settings,
    sasrec_run: ModelRun,
) -> list[ModelRun]:
    """One ModelRun per pipeline variant, sharing the models and the ranker."""
    from shoprec.models.ranker import FEATURES
    from shoprec.online.tags import ItemTagger
    from shoprec.ranking.fit import fit_phases, offline_catalog
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
    valid, final = fit_phases(data, catalog, sasrec_valid, sasrec_final, seed=settings.seed)
    ranker = final.bundle.ranker
    assert ranker is not None
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
