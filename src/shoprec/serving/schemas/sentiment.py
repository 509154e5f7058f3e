"""Schemas of the review sentiment routes (``/v1/sentiment``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SentimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Annotated[str, Field(max_length=20_000)]] = Field(min_length=1, max_length=100)


class SentimentScores(BaseModel):
    negative: float
    neutral: float
    positive: float


class SentimentOne(BaseModel):
    label: str
    intensity: float = Field(ge=0, le=1)
    scores: SentimentScores


class SentimentOut(BaseModel):
    results: list[SentimentOne]
    model: str = Field(description="The model that scored: quick, fine-tuned (or frozen-encoder)")
    model_version: str = Field(description="Its version (quick: data hash and training time)")


class WeekSentiment(BaseModel):
    week: str
    count: int
    negative: float
    neutral: float
    positive: float


class ItemSentimentOut(BaseModel):
    item_id: str
    count: int
    negative: float
    neutral: float
    positive: float
    mean_intensity: float
    drift: float = Field(description="Net sentiment of the last 4 weeks minus before")
    trend: list[WeekSentiment]
    highlight: str | None
    model: str | None = Field(description="The model that scored the reviews (null: none yet)")
    model_version: str | None
