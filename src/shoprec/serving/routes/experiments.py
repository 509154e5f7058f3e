"""``/v1/experiments``: A/B tests and bandits over serving strategies."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import HTTPException, Path

from shoprec.experiments.records import Experiment, ExperimentError
from shoprec.ranking.strategy import Strategy
from shoprec.serving.routes.deps import ADMIN, READ, EngineDep, api_router
from shoprec.serving.schemas.common import CONFLICT, NOT_FOUND
from shoprec.serving.schemas.experiments import (
    ExperimentIn,
    ExperimentOut,
    ExperimentSummary,
    StopIn,
    StopOut,
)

router = api_router(tags=["experiments"])
NamePath = Annotated[str, Path(min_length=1, max_length=100)]


def _refuse(e: ExperimentError) -> HTTPException:
    return HTTPException(status_code=e.status, detail=str(e))


@router.post(
    "/experiments",
    response_model=ExperimentOut,
    status_code=201,
    dependencies=[ADMIN],
    responses=CONFLICT,
)
def create_experiment(body: ExperimentIn, engine: EngineDep) -> dict:  # sync: store writes
    """Start an experiment: shoppers are split by hashing their id (sticky); in ``bandit``
    mode the shares follow Thompson sampling on conversion, never below ``floor``."""
    base = engine.pipeline.strategy
    variants: list[tuple[str, Strategy]] = []
    for k, v in enumerate(body.variants):
        fields = {"name": v.name, **v.strategy.overrides()}
        try:
            variants.append((v.name, replace(base, **fields)))
        except ValueError as e:  # Strategy's own checks (already bounded by the schema)
            raise HTTPException(422, f"variants.{k}.strategy: {e}") from e
    names = [n for n, _ in variants]
    traffic = body.traffic or [1.0 / len(variants)] * len(variants)
    exp = Experiment(
        name=body.name,
        variants=variants,
        traffic=list(traffic),
        mode=body.mode,
        floor=body.floor,
        control=names.index(body.control) if body.control else 0,
        log_limit=body.log_limit,
    )
    try:
        engine.experiments.create(exp)
    except ExperimentError as e:
        raise _refuse(e) from e
    return engine.experiments.report(exp.name)


@router.get("/experiments", response_model=list[ExperimentSummary], dependencies=[READ])
async def list_experiments(engine: EngineDep) -> list[dict]:
    return engine.experiments.list()


@router.get(
    "/experiments/{name}", response_model=ExperimentOut, dependencies=[READ], responses=NOT_FOUND
)
def experiment_report(name: NamePath, engine: EngineDep) -> dict:  # sync: reads the store
    """Per variant: exposures, CTR, conversion, revenue per user with 95% intervals, the lift
    against control and the probability of being best."""
    try:
        return engine.experiments.report(name)
    except ExperimentError as e:
        raise _refuse(e) from e


@router.post(
    "/experiments/{name}/stop",
    response_model=StopOut,
    dependencies=[ADMIN],
    responses=NOT_FOUND | CONFLICT,
)
def stop_experiment(name: NamePath, engine: EngineDep, body: StopIn | None = None) -> dict:
    """Stop: promote the winner (its strategy is served to everyone from now on) or roll
    back to the strategy served before; ``auto`` promotes only a significant winner."""
    try:
        body = body or StopIn()
        outcome = engine.experiments.stop(name, body.action, body.variant)
    except ExperimentError as e:
        raise _refuse(e) from e
    if engine.experiments.promoted is not None and outcome["strategy"] is not None:
        engine.pipeline.strategy = engine.experiments.promoted
    return {"name": name, **outcome}
