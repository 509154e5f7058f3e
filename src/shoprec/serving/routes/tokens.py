"""``POST /v1/tokens``: the shop's backend mints a shopper token for a browser or app."""

from __future__ import annotations

from fastapi import HTTPException, Request

from shoprec.serving.routes.deps import WRITE, api_router
from shoprec.serving.schemas.common import CONFLICT
from shoprec.serving.schemas.tokens import TokenIn, TokenOut
from shoprec.serving.tokens import mint

router = api_router(tags=["tokens"])


@router.post(
    "/tokens", response_model=TokenOut, status_code=201, dependencies=[WRITE], responses=CONFLICT
)
async def create_token(body: TokenIn, request: Request) -> dict:
    """A short-lived token letting its holder read and write one shopper's data only (feed,
    profile, export, assistant answers, events, feedback) and read the catalog; sent as
    ``Authorization: Bearer <token>``. 409 when the shop has no token secret configured; 422
    when ``ttl_s`` is above the shop's maximum."""
    cfg = request.app.state.gate.cfg
    if not cfg.token_secret:
        raise HTTPException(409, "tokens: SHOPREC_SHOPPER_TOKEN_SECRET is not set")
    if body.ttl_s > cfg.token_max_ttl_s:
        raise HTTPException(
            422, f"ttl_s: at most {cfg.token_max_ttl_s:.0f} (SHOPREC_SHOPPER_TOKEN_MAX_TTL_S)"
        )
    token, expires = mint(cfg.token_secret, body.user_id, body.session_id, body.ttl_s)
    return {
        "token": token,
        "user_id": body.user_id,
        "session_id": body.session_id,
        "expires_at": expires,
    }
