"""Schemas of the experiment routes (``/v1/experiments``)."""

from __future__ import annotations

import math
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]


class StrategyIn(BaseModel):
    """Pipeline settings of a variant; omitted fields keep the currently served strategy's
    value (see :class:`shoprec.ranking.strategy.Strategy` for their meaning)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, description="Default: the variant's name.")
    version: int | None = Field(default=None, ge=1, le=1_000_000)
    n_seq: int | None = Field(default=None, ge=0, le=1000)
    n_covis: int | None = Field(default=None, ge=0, le=1000)
    n_text: int | None = Field(default=None, ge=0, le=1000)
    n_trending: int | None = Field(default=None, ge=0, le=1000)
    n_new: int | None = Field(default=None, ge=0, le=1000)
    new_window_s: float | None = Field(default=None, ge=0, le=1e9)
    use_ranker: bool | None = None
    rerank: bool | None = None
    mmr_lambda: float | None = Field(default=None, ge=0, le=1)
    novelty: float | None = Field(default=None, ge=0, le=10)
    exploration: float | None = Field(default=None, ge=0, le=0.5)
    sentiment: float | None = Field(default=None, ge=0, le=10)
    session_boost: float | None = Field(default=None, ge=0, le=10)
    n_session: int | None = Field(default=None, ge=0, le=100)
    session_slots: int | None = Field(default=None, ge=0, le=100)

    def overrides(self) -> dict:
        return self.model_dump(exclude_none=True)


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    strategy: StrategyIn = Field(default_factory=StrategyIn)


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    variants: list[VariantIn] = Field(min_length=2, max_length=10)
    traffic: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None, description="Shares per variant summing to 1; default: equal."
    )
    mode: Literal["fixed", "bandit", "explore"] = Field(
        default="fixed",
        description="bandit: Thompson sampling on conversion; explore: fixed shares, and every "
        "request logs each variant's list for off-policy tuning (shoprec experiments tune).",
    )
    floor: float = Field(
        default=0.05, ge=0, le=0.5, description="Bandit: the least share any variant keeps."
    )
    control: Name | None = Field(default=None, description="Default: the first variant.")
    log_limit: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="explore: requests logged at most (the first ones); later requests are "
        "served their variant unlogged.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variants: names must be unique")
        if self.traffic is not None:
            if len(self.traffic) != len(self.variants):
                raise ValueError("traffic: one share per variant")
            if not math.isclose(sum(self.traffic), 1.0, abs_tol=1e-6):
                raise ValueError("traffic: shares must sum to 1")
        if self.control is not None and self.control not in names:
            raise ValueError("control: must name one of the variants")
        if self.floor * len(self.variants) > 1:
            raise ValueError("floor: floor times the number of variants must be <= 1")
        return self


class StopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["auto", "promote", "rollback"] = "auto"
    variant: Name | None = Field(default=None, description="promote: which variant.")


class StopOut(BaseModel):
    name: str
    action: str
    variant: str | None
    strategy: dict | None = Field(description="The strategy now served to everyone, if changed.")


class Interval(BaseModel):
    value: float | None
    low: float | None
    high: float | None


class Lift(BaseModel):
    diff: float | None = Field(description="variant minus control")
    low: float | None
    high: float | None
    relative: float | None = Field(description="diff / control")


class VariantOut(BaseModel):
    name: str
    strategy: dict
    share: float = Field(description="Share of new shoppers assigned here now")
    users: int = Field(description="Exposed shoppers")
    lists: int
    impressions: int
    clicks: int
    click_events: int
    add_to_carts: int
    purchases: int
    converted: int
    revenue: float
    ctr: Interval
    conversion: Interval
    revenue_per_user: Interval
    prob_best: float = Field(description="Posterior probability of the best conversion")
    lift: dict[str, Lift] | None = Field(description="Against control (null for control)")


class ExperimentOut(BaseModel):
    name: str
    status: str
    mode: str
    control: str
    floor: float
    traffic: list[float]
    created_at: float
    stopped_at: float | None
    outcome: dict | None
    level: float
    variants: list[VariantOut]


class ExperimentSummary(BaseModel):
    name: str
    status: str
    mode: str
    variants: int
