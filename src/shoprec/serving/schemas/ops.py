"""Schemas of the probes: ``/healthz`` (liveness) and ``/readyz`` (readiness)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: str = Field(description="Always `ok`: the process answers.")
    items: int = Field(description="Catalog items loaded.")
    model: str = Field(description="The served model bundle's version.")
    model_version: str = Field(
        description="The same version, by the name every recommendation answer gives it "
        "(`none`: no trained model yet)."
    )


class ReadyOut(BaseModel):
    status: str = Field(description="`ready` or `not ready`.")
    checks: dict[str, str] = Field(
        description="Per dependency (`store`, `model`): `ok`, or why it is not."
    )
    items: int = Field(description="Catalog items loaded.")
    model: str | None = Field(description="The served model bundle's version, if any.")
