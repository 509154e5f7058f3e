"""Whom the storefront page shows once the shop has credentials configured, and the shopper
token the page's own calls carry (docs/security.md, "The storefront")."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request

from shoprec.serving.access import Gate
from shoprec.serving.tokens import mint

#: The storefront's tokens live this long at most (a reload mints a new one).
PAGE_TOKEN_TTL_S = 900.0


async def page_shopper(request: Request, gate: Gate, asked: str | None) -> tuple[str, str | None]:
    """``(shopper shown, their token or None)``: the shopper ``asked`` for when the caller
    presents a server key, else a fresh guest id (nobody's data). No token without a token
    secret: the page then asks for a key as before."""
    try:
        caller = gate.authenticate(request)
    except HTTPException:
        caller = None  # a wrong key is not an error on a page: it shows a guest
    address = f"addr:{request.client.host if request.client else 'unknown'}"
    await gate.count(caller.who if caller else address)  # page loads count like API calls
    staff = caller is not None and caller.level is not None
    user = asked if asked and staff else f"guest-{secrets.token_hex(6)}"
    if not gate.cfg.token_secret:
        return user, None
    ttl = min(PAGE_TOKEN_TTL_S, gate.cfg.token_max_ttl_s)
    token, _ = mint(gate.cfg.token_secret, user, None, ttl)
    return user, token
