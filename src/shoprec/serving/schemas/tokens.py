"""Schemas of ``POST /v1/tokens``: minting a shopper token."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shoprec.serving.schemas.common import Id


class TokenIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user_id": "A1", "ttl_s": 900}],
            # the validator's rule, stated in the documented schema too
            "anyOf": [
                {"required": [f], "properties": {f: {"type": "string", "minLength": 1}}}
                for f in ("user_id", "session_id")
            ],
        },
    )
    user_id: Id | None = Field(default=None, description="The shopper the token acts for.")
    session_id: Id | None = Field(
        default=None,
        description="The anonymous session it acts for (alone), or the session a signed-in "
        "shopper comes from (with user_id: its events may merge that session).",
    )
    ttl_s: int = Field(
        default=900,
        ge=1,
        le=7 * 86400,
        description="Lifetime in seconds; above SHOPREC_SHOPPER_TOKEN_MAX_TTL_S: 422.",
    )

    @model_validator(mode="after")
    def _names_someone(self) -> TokenIn:
        if not self.user_id and not self.session_id:
            raise ValueError("user_id or session_id is required")
        return self


class TokenOut(BaseModel):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    user_id: str | None
    session_id: str | None
    expires_at: float = Field(description="Epoch seconds.")
