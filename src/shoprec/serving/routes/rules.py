"""Business rules (admin): list, create and delete the pins, boosts, buries and blocks the
pipeline's re-rank applies (:mod:`shoprec.ranking.rules`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import HTTPException, Path

from shoprec.ranking.rules import Rule, RuleError
from shoprec.serving.routes.deps import ADMIN, EngineDep, api_router
from shoprec.serving.schemas.common import NOT_FOUND
from shoprec.serving.schemas.rules import RuleDeletedOut, RuleIn, RuleOut, RulesOut

router = api_router(tags=["rules"])


def _seconds(when: datetime | None) -> float | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def rule_out(rule: Rule, now: float) -> dict:
    """The rule as the routes answer it (times as ISO 8601, UTC)."""
    return {
        "rule_id": rule.rule_id,
        "action": rule.action,
        "target": {"type": rule.target, "value": rule.value, "name": rule.attribute},
        "position": rule.position,
        "strength": rule.strength,
        "start": _when(rule.start),
        "end": _when(rule.end),
        "note": rule.note,
        "created_at": _when(rule.created_at),
        "active": rule.active(now),
    }


@router.get("/rules", response_model=RulesOut, dependencies=[ADMIN])
def list_rules(engine: EngineDep) -> dict:
    """Every rule, oldest first, with whether it applies now."""
    now = engine.rules.clock()
    return {"rules": [rule_out(r, now) for r in engine.rules.list()]}


@router.post("/rules", response_model=RuleOut, status_code=201, dependencies=[ADMIN])
def create_rule(body: RuleIn, engine: EngineDep) -> dict:
    """A new rule, applied to every list from the next request on (every worker within
    half a second). 422 naming the field when it cannot apply: a pin of anything but an
    item or without a position, a window that ends before it starts or is over, a target
    no catalog item matches."""
    rule = Rule(
        rule_id="",
        action=body.action,
        target=body.target.type,
        value=body.target.value,
        attribute=body.target.name,
        position=body.position,
        strength=body.strength,
        start=_seconds(body.start),
        end=_seconds(body.end),
        note=body.note,
    )
    try:
        made = engine.rules.create(rule, engine.catalog)
    except RuleError as exc:
        raise HTTPException(422, str(exc)) from exc
    return rule_out(made, time.time())


@router.delete(
    "/rules/{rule_id}", response_model=RuleDeletedOut, dependencies=[ADMIN], responses=NOT_FOUND
)
def delete_rule(engine: EngineDep, rule_id: str = Path(min_length=1, max_length=64)) -> dict:
    """Remove a rule; lists stop applying it from the next request on."""
    if not engine.rules.delete(rule_id):
        raise HTTPException(404, f"rule_id: no rule {rule_id!r}")
    return {"rule_id": rule_id, "deleted": True}
