"""``shoprec token``: a shopper token minted with the shop's secret, printed for the shop's
backend (or a test) to hand to a shopper's browser; ``POST /v1/tokens`` does the same over
HTTP with a write key."""

from __future__ import annotations

from typing import Annotated

import typer


def token(
    user: Annotated[str | None, typer.Option(help="the shopper the token acts for")] = None,
    session: Annotated[
        str | None, typer.Option(help="the anonymous session it acts for (or signs in from)")
    ] = None,
    ttl: Annotated[
        int,
        typer.Option(min=1, help="lifetime in seconds (at most SHOPREC_SHOPPER_TOKEN_MAX_TTL_S)"),
    ] = 900,
) -> None:
    """Print a shopper token (HS256 JWT) signed with SHOPREC_SHOPPER_TOKEN_SECRET: its holder
    reads and writes only that shopper's data (docs/security.md)."""
    from shoprec.serving.tokens import TokenError, mint
    from shoprec.settings import Settings

    settings = Settings()
    if not settings.shopper_token_secret:
        raise typer.BadParameter("SHOPREC_SHOPPER_TOKEN_SECRET is not set", param_hint="secret")
    if ttl > settings.shopper_token_max_ttl_s:
        raise typer.BadParameter(
            f"at most {settings.shopper_token_max_ttl_s} (SHOPREC_SHOPPER_TOKEN_MAX_TTL_S)",
            param_hint="--ttl",
        )
    try:
        minted, _ = mint(settings.shopper_token_secret, user, session, ttl)
    except TokenError as exc:
        raise typer.BadParameter(str(exc), param_hint="--user / --session") from None
    typer.echo(minted)
